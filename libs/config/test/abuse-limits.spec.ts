import { loadConfig } from '../src';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32) };

describe('loadConfig: limits against abuse', () => {
  it('bounds slow clients and connections by default, and reads P2_HTTP_*', () => {
    expect(loadConfig(base).httpServer).toEqual({ headersTimeoutMs: 10000, requestTimeoutMs: 30000, keepAliveTimeoutMs: 10000, idleTimeoutMs: 60000, maxConnections: 10000, trustProxy: false });
    const set = loadConfig({
      ...base,
      P2_HTTP_HEADERS_TIMEOUT_MS: '200',
      P2_HTTP_REQUEST_TIMEOUT_MS: '400',
      P2_HTTP_KEEP_ALIVE_TIMEOUT_MS: '300',
      P2_HTTP_IDLE_TIMEOUT_MS: '500',
      P2_HTTP_MAX_CONNECTIONS: '7',
    });
    expect(set.httpServer).toEqual({ headersTimeoutMs: 200, requestTimeoutMs: 400, keepAliveTimeoutMs: 300, idleTimeoutMs: 500, maxConnections: 7, trustProxy: false });
  });

  it('refuses a header deadline after the request deadline, and zero (no limit)', () => {
    expect(() => loadConfig({ ...base, P2_HTTP_HEADERS_TIMEOUT_MS: '5000', P2_HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow('P2_HTTP_HEADERS_TIMEOUT_MS must not exceed');
    for (const name of ['P2_HTTP_HEADERS_TIMEOUT_MS', 'P2_HTTP_REQUEST_TIMEOUT_MS', 'P2_HTTP_KEEP_ALIVE_TIMEOUT_MS', 'P2_HTTP_IDLE_TIMEOUT_MS', 'P2_HTTP_MAX_CONNECTIONS']) {
      expect(() => loadConfig({ ...base, [name]: '0' })).toThrow(name);
    }
  });

  it("believes nobody's X-Forwarded-For by default, and reads P2_TRUST_PROXY as a number of proxies, peers, or true", () => {
    const trust = (value: string) => loadConfig({ ...base, P2_TRUST_PROXY: value }).httpServer.trustProxy;
    expect(trust('')).toBe(false);
    expect(trust('false')).toBe(false);
    expect(trust('true')).toBe(true);
    expect(trust('1')).toBe(1);
    expect(trust('10.0.0.0/8, 127.0.0.1,::1, fd00::/8')).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
    for (const value of ['0', '17', 'yes', '10.0.0.0/33', '::1/129', '10.0.0.1/8/8', 'gateway.internal', '127.0.0.1,']) {
      expect(() => loadConfig({ ...base, P2_TRUST_PROXY: value })).toThrow('P2_TRUST_PROXY');
    }
  });

  it('limits per address and per actor by default, and reads P2_RATE_LIMIT_* and the lock-out', () => {
    const defaults = loadConfig(base).rateLimits;
    expect(defaults.enabled).toBe(true);
    expect(defaults.session).toEqual({ perAddress: 30, perActor: 10 });
    expect({ after: defaults.lockoutAfter, base: defaults.lockoutBaseSeconds, max: defaults.lockoutMaxSeconds }).toEqual({ after: 5, base: 30, max: 3600 });
    const set = loadConfig({ ...base, P2_RATE_LIMITS_ENABLED: 'false', P2_RATE_LIMIT_KEYPACKAGE_CLAIM: '7, 3', P2_LOGIN_LOCKOUT_AFTER: '2' }).rateLimits;
    expect({ enabled: set.enabled, claim: set.keyPackageClaim, after: set.lockoutAfter }).toEqual({ enabled: false, claim: { perAddress: 7, perActor: 3 }, after: 2 });
    for (const value of ['10', '0,5', '5,x', '5,5,5']) expect(() => loadConfig({ ...base, P2_RATE_LIMIT_REGISTER: value })).toThrow('P2_RATE_LIMIT_REGISTER');
    expect(() => loadConfig({ ...base, P2_LOGIN_LOCKOUT_BASE_SECONDS: '100', P2_LOGIN_LOCKOUT_MAX_SECONDS: '10' })).toThrow('P2_LOGIN_LOCKOUT_BASE_SECONDS');
  });
});

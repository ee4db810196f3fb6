import { ConfigError, loadConfig } from '../src';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32), P2_DOMAIN: 'b.example' };

function problemsOf(env: Record<string, string>): string {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('\n');
    throw error;
  }
  return '';
}

describe('P2_FEDERATION_*', () => {
  it('defaults: enabled, no resolve map, 3 s connect, 5 s per request, 256 KiB, refresh every 5 min, cache at most 12 h', () => {
    expect(loadConfig(base).federation).toEqual({
      enabled: true,
      resolve: new Map(),
      connectTimeoutMs: 3000,
      requestTimeoutMs: 5000,
      maxResponseBytes: 262144,
      refreshSeconds: 300,
      cacheMaxSeconds: 43200,
    });
  });

  it('reads the resolve map: a server base gets /.p2/core/ appended, an API base is kept', () => {
    const { federation } = loadConfig({
      ...base,
      P2_FEDERATION_ENABLED: 'false',
      P2_FEDERATION_RESOLVE: ' A.example=http://127.0.0.1:4001 , c.example=https://c.example/base/, d.example=http://10.0.0.4:8080/.p2/core ',
      P2_FEDERATION_CACHE_MAX_SECONDS: '5',
      P2_FEDERATION_REFRESH_SECONDS: '1',
    });
    expect(federation).toMatchObject({
      enabled: false,
      cacheMaxSeconds: 5,
      refreshSeconds: 1,
      resolve: new Map([
        ['a.example', 'http://127.0.0.1:4001/.p2/core/'],
        ['c.example', 'https://c.example/base/.p2/core/'],
        ['d.example', 'http://10.0.0.4:8080/.p2/core/'],
      ]),
    });
  });

  it('refuses malformed entries, this server’s own domain, a name twice and out-of-range limits, all at once', () => {
    const problems = problemsOf({
      P2_FEDERATION_RESOLVE: 'nodomain,x y=http://h/,a.example=ftp://h/,c.example=http://u:p@h/,b.example=http://h/,d.example=http://h/,d.example=http://i/,e.example=not a url',
      P2_FEDERATION_ENABLED: 'maybe',
      P2_FEDERATION_CONNECT_TIMEOUT_MS: '10',
      P2_FEDERATION_TIMEOUT_MS: '0',
      P2_FEDERATION_MAX_RESPONSE_BYTES: '100',
      P2_FEDERATION_REFRESH_SECONDS: '0',
      P2_FEDERATION_CACHE_MAX_SECONDS: 'soon',
    });
    for (const text of [
      '"nodomain" is not domain=url',
      '"x y=http://h/" is not domain=url',
      'entry for a.example',
      'entry for c.example',
      "own domain b.example",
      'names d.example twice',
      'entry for e.example',
      'P2_FEDERATION_ENABLED',
      'P2_FEDERATION_CONNECT_TIMEOUT_MS',
      'P2_FEDERATION_TIMEOUT_MS',
      'P2_FEDERATION_MAX_RESPONSE_BYTES',
      'P2_FEDERATION_REFRESH_SECONDS',
      'P2_FEDERATION_CACHE_MAX_SECONDS',
    ]) {
      expect(problems).toContain(text);
    }
  });
});

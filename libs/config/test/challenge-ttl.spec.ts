import { loadConfig } from '../src';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32) };

describe('P2_CHALLENGE_TTL_SECONDS', () => {
  it('defaults to 300 seconds and accepts 1 to 3600', () => {
    expect(loadConfig(base).challengeTtlSeconds).toBe(300);
    expect(loadConfig({ ...base, P2_CHALLENGE_TTL_SECONDS: '1' }).challengeTtlSeconds).toBe(1);
    expect(loadConfig({ ...base, P2_CHALLENGE_TTL_SECONDS: '3600' }).challengeTtlSeconds).toBe(3600);
  });

  it('refuses to start with a TTL that is not a whole number between 1 and 3600', () => {
    for (const bad of ['0', '3601', '5m', '-1', '1.5']) {
      expect(() => loadConfig({ ...base, P2_CHALLENGE_TTL_SECONDS: bad })).toThrow(/P2_CHALLENGE_TTL_SECONDS/);
    }
  });
});

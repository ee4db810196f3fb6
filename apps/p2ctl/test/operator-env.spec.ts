import { operatorEnv, UsageError } from '../src/operator-env';

const base = { KAFKA_BROKERS: '127.0.0.1:9092', P2_OPERATOR: 'tests' };

describe('operatorEnv: the password cost of p2ctl admins create', () => {
  it('hashes as the gateways do: P2_PASSWORD_SCRYPT_COST, 17 when unset', () => {
    expect(operatorEnv(base).passwordScryptCost).toBe(17);
    expect(operatorEnv({ ...base, P2_PASSWORD_SCRYPT_COST: '14' }).passwordScryptCost).toBe(14);
    expect(operatorEnv({ ...base, P2_PASSWORD_SCRYPT_COST: '20', NODE_ENV: 'production' }).passwordScryptCost).toBe(20);
  });

  it('refuses what the gateways refuse: outside 14 to 20, not an integer, under 17 in production', () => {
    for (const cost of ['13', '21', '16.5', 'x']) {
      expect(() => operatorEnv({ ...base, P2_PASSWORD_SCRYPT_COST: cost })).toThrow(UsageError);
    }
    expect(() => operatorEnv({ ...base, P2_PASSWORD_SCRYPT_COST: '16', NODE_ENV: 'production' })).toThrow(/at least 17 in production/);
  });
});

describe('operatorEnv: the domain and the administrators, by the gateways\' rules', () => {
  it('reads them as the gateways do: trimmed, lower-cased, localhost when unset', () => {
    expect(operatorEnv(base)).toEqual(expect.objectContaining({ domain: 'localhost', admins: [] }));
    expect(operatorEnv({ ...base, P2_DOMAIN: ' Example.COM ', P2_ADMINS: ' Root , ops.team ,' })).toEqual(
      expect.objectContaining({ domain: 'example.com', admins: ['root', 'ops.team'] }),
    );
  });

  it('refuses what the gateways refuse, so that p2ctl creates no administrator who could never sign in', () => {
    expect(() => operatorEnv({ ...base, P2_DOMAIN: 'not a domain' })).toThrow(/P2_DOMAIN "not a domain" is not a DNS name/);
    expect(() => operatorEnv({ ...base, P2_DOMAIN: 'example.com:8443' })).toThrow(/P2_DOMAIN/);
    expect(() => operatorEnv({ ...base, P2_ADMINS: 'root,Not Ok' })).toThrow(/P2_ADMINS entry "not ok" is not an actor name/);
    expect(() => operatorEnv({ ...base, P2_ADMINS: 'a'.repeat(65) })).toThrow(/P2_ADMINS entry/);
  });

  it('reports every problem at once, as the apps do', () => {
    let message = '';
    try {
      operatorEnv({ P2_OPERATOR: 'tests', KAFKA_BROKERS: 'nohost', P2_DOMAIN: 'bad domain', P2_ADMINS: 'x y', P2_KAFKA_TOPIC_PREFIX: 'a/b' });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ['KAFKA_BROKERS entry "nohost"', 'P2_KAFKA_TOPIC_PREFIX', 'P2_DOMAIN', 'P2_ADMINS entry "x y"']) expect(message).toContain(name);
  });
});

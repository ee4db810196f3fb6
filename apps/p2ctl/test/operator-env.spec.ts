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

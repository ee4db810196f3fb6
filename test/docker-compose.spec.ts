import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(join(__dirname, '..', 'docker-compose.yml'), 'utf8'), { merge: true });

  it('names the cluster: Kafka (KRaft), PostgreSQL 15, two certstores, two gateways behind one port', () => {
    const services = compose.services as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(Object.keys(services)).toEqual(expect.arrayContaining(['kafka', 'postgres', 'certstore-1', 'certstore-2', 'gateway-1', 'gateway-2', 'gateway-lb']));
    expect(services.kafka.image).toMatch(/^apache\/kafka:4\./);
    expect(services.kafka.environment.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(services.postgres.image).toMatch(/^postgres:15/);
    const published = Object.entries(services).filter(([, s]) => Array.isArray(s.ports) && s.ports.length > 0);
    expect(published.map(([name]) => name)).toEqual(['gateway-lb']);
  });

  it('passes the same configuration variables as npm start to every app', () => {
    for (const name of ['certstore-1', 'certstore-2', 'gateway-1', 'gateway-2']) {
      const env = compose.services[name].environment;
      for (const variable of ['P2_DOMAIN', 'KAFKA_BROKERS', 'DATABASE_URL', 'P2_KEY_ENCRYPTION_KEY', 'P2_ADMINS', 'P2_KEYMATERIAL_MAX_BYTES', 'P2_IDCERT_LIFETIME_DAYS']) {
        expect(env).toHaveProperty(variable);
      }
    }
  });
});

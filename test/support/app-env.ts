import { randomBytes } from 'node:crypto';
import { kafkaBrokers } from '@p2/testing';

/** The secrets a home server's apps start with, new for every cluster a test starts. A PostgreSQL
 * that asks for passwords (the container of the Docker path) needs the gateway role's: the
 * certstore's migrations give it to that role. */
export function freshSecrets(): Record<'P2_KEY_ENCRYPTION_KEY' | 'P2_TOKEN_KEY' | 'P2_CHALLENGE_KEY' | 'P2_GATEWAY_DB_PASSWORD', string> {
  return {
    P2_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    P2_TOKEN_KEY: randomBytes(32).toString('hex'),
    P2_CHALLENGE_KEY: randomBytes(32).toString('hex'),
    P2_GATEWAY_DB_PASSWORD: randomBytes(24).toString('hex'),
  };
}

/** The apps' environment on the test run's broker, with a database and a topic prefix of the test's own. */
export function testAppEnv(databaseUrl: string, topicPrefix: string): Record<string, string> {
  return {
    NODE_ENV: 'test',
    KAFKA_BROKERS: kafkaBrokers().join(','),
    DATABASE_URL: databaseUrl,
    P2_KAFKA_TOPIC_PREFIX: topicPrefix,
    P2_DOMAIN: 'example.com',
    ...freshSecrets(),
  };
}

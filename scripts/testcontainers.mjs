// The Docker path of `npm test` (used only when a Docker engine answers): a KRaft Kafka and a
// PostgreSQL 15 in containers, with testcontainers@11 (12 needs Node >= 22.22).
import { KafkaContainer } from '@testcontainers/kafka';
import { PostgreSqlContainer } from '@testcontainers/postgresql';

export async function startContainers({ postgres = true } = {}) {
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.9.0').withKraft().start();
  const pg = postgres ? await new PostgreSqlContainer('postgres:15-alpine').withUsername('postgres').withPassword('postgres').start() : undefined;
  return {
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    databaseUrl: pg ? `postgres://postgres:postgres@${pg.getHost()}:${pg.getPort()}/postgres` : undefined,
    async stop() {
      await Promise.all([kafka.stop(), pg?.stop()]);
    },
  };
}

// The Docker path of `npm test`: a single-node KRaft Kafka and a PostgreSQL 15 in containers, with
// testcontainers@11 (12 needs Node >= 22.22), from the images scripts/images.mjs resolved (official
// where a registry answers, substitutes otherwise). Both are reached through 127.0.0.1 and a mapped port.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { GenericContainer, Wait } from 'testcontainers';
import { ensureTopics } from './kafka.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// The broker settings the container tests use too (official apache/kafka and the substitute read the same variables).
const KAFKA_ENV = JSON.parse(fs.readFileSync(path.join(ROOT, 'test', 'support', 'kafka-single-node.json'), 'utf8'));
// Logged by KafkaRaftServer once broker and controller are up (the port opens earlier).
const KAFKA_STARTED = /Kafka Server started/;

/** A TCP port that was free a moment ago. The broker must advertise its host port before it
 * starts, so this port is mapped explicitly rather than chosen by Docker. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Kafka and PostgreSQL from `images` ({kafka, postgres}), labelled with `labels`.
 * Returns their addresses and a stop function.
 */
export async function startContainers({ images, labels = {} }) {
  const port = await freePort();
  const kafkaContainer = new GenericContainer(images.kafka)
    .withEnvironment({ ...KAFKA_ENV, KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${port}` })
    .withExposedPorts({ container: 9092, host: port })
    .withLabels(labels)
    .withWaitStrategy(Wait.forLogMessage(KAFKA_STARTED))
    .withStartupTimeout(180_000)
    .start();
  const pgContainer = new PostgreSqlContainer(images.postgres)
    .withUsername('postgres')
    .withPassword('postgres')
    .withDatabase('postgres')
    .withLabels(labels)
    // the module's default probes every 250 ms for the container's whole life
    .withHealthCheck({ test: ['CMD-SHELL', 'pg_isready --host localhost --username postgres'], interval: 1000, timeout: 3000, retries: 120 })
    .start();
  const [kafka, pg] = await Promise.allSettled([kafkaContainer, pgContainer]);
  if (kafka.status === 'rejected' || pg.status === 'rejected') {
    await Promise.allSettled([kafka.value?.stop(), pg.value?.stop()]);
    throw kafka.reason ?? pg.reason;
  }
  const stop = () => Promise.allSettled([kafka.value.stop(), pg.value.stop()]);
  const kafkaBrokers = `127.0.0.1:${port}`;
  try {
    // creates the project's topics and warms up the group coordinator, as scripts/kafka.mjs start does
    await ensureTopics(kafkaBrokers);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    kafkaBrokers,
    databaseUrl: `postgres://postgres:postgres@127.0.0.1:${pg.value.getPort()}/postgres`,
    async stop() {
      await stop();
    },
  };
}

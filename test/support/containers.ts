import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { GenericContainer, Network, Wait, type StartedNetwork, type StartedTestContainer } from 'testcontainers';
import { PostgreSqlContainer, type StartedPostgreSqlContainer } from '@testcontainers/postgresql';
import { gatewayDatabaseUrl } from '@p2/platform';
import { freshSecrets } from './app-env';
import kafkaSingleNode from './kafka-single-node.json';

export const ROOT = resolve(__dirname, '..', '..');

/** The images `npm test` resolved for the Docker path (official or built substitutes). */
export interface TestImages {
  readonly kafka: string;
  readonly postgres: string;
  readonly app: string;
  readonly lb: string;
}

export function testImages(): TestImages {
  const images = {
    kafka: process.env.P2_KAFKA_IMAGE,
    postgres: process.env.P2_POSTGRES_IMAGE,
    app: process.env.P2_APP_IMAGE,
    lb: process.env.P2_LB_IMAGE,
  };
  const missing = Object.entries(images).filter(([, image]) => !image);
  if (missing.length > 0) {
    throw new Error(`no ${missing.map(([name]) => name).join(', ')} image: run the container suites with \`P2_TEST_SERVICES=docker npm test\`, which builds or pulls them.`);
  }
  return images as unknown as TestImages;
}

/** Labels on everything the container suites start, so `npm test` can remove leftovers of its run. */
export function testRunLabels(): Record<string, string> {
  return { 'org.polyproto.test-run': process.env.P2_TEST_RUN ?? 'manual' };
}

/** Runs the docker command line; throws with its output when it fails. */
export function docker(...args: string[]): string {
  const result = spawnSync('docker', args, { encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${result.stderr || result.error?.message}`);
  return result.stdout.trim();
}

/** `docker pause`, tried again while the freezer gives up. With cgroup v1 a process in an
 * uninterruptible sleep (PostgreSQL in an fsync under load) can keep a container from freezing; runc
 * then thaws it and fails with "unable to freeze". That is the fault injection failing, not the
 * behaviour under test, so it is retried for up to `deadlineMs`. */
export async function pauseContainer(id: string, deadlineMs = 10_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    try {
      docker('pause', id);
      return;
    } catch (error) {
      if (Date.now() > deadline || !/unable to freeze/.test((error as Error).message)) throw error;
      process.stderr.write(`docker pause ${id.slice(0, 12)}: the freezer gave up, trying again\n`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  }
}

/** A TCP port that was free a moment ago (for a mapping that must be known before the container starts). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

export interface ContainerClusterOptions {
  readonly certstores: number;
  readonly gateways: number;
  /** Extra configuration for every app container. */
  readonly env?: Record<string, string>;
}

/** A whole home server in containers on a network of its own — Kafka, PostgreSQL, certstores and
 * gateways from the test images — reached from the host through 127.0.0.1 and mapped ports only. */
export class ContainerCluster {
  readonly gatewayUrls: string[] = [];
  readonly certstores: StartedTestContainer[] = [];
  readonly gateways: StartedTestContainer[] = [];

  private constructor(
    private readonly network: StartedNetwork,
    readonly kafka: StartedTestContainer,
    readonly postgres: StartedPostgreSqlContainer,
    /** Every container started (the one-shot topic creator included), for stop(). */
    private readonly started: StartedTestContainer[],
  ) {}

  /** PostgreSQL as the host reaches it (for checking the event log). */
  get databaseUrl(): string {
    return `postgres://postgres:postgres@127.0.0.1:${this.postgres.getPort()}/polyproto`;
  }

  static async start(options: ContainerClusterOptions): Promise<ContainerCluster> {
    const images = testImages();
    const labels = testRunLabels();
    const network = await new Network().start();
    const started: StartedTestContainer[] = [];
    try {
      const [kafkaStart, postgresStart] = await Promise.allSettled([
        new GenericContainer(images.kafka)
          .withNetwork(network)
          .withNetworkAliases('kafka')
          .withEnvironment({ ...kafkaSingleNode, KAFKA_ADVERTISED_LISTENERS: 'PLAINTEXT://kafka:9092' })
          .withLabels(labels)
          .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
          .withStartupTimeout(180_000)
          .start(),
        new PostgreSqlContainer(images.postgres)
          .withNetwork(network)
          .withNetworkAliases('postgres')
          .withUsername('postgres')
          .withPassword('postgres')
          .withDatabase('polyproto')
          .withLabels(labels)
          .withHealthCheck({ test: ['CMD-SHELL', 'pg_isready --host localhost --username postgres'], interval: 1000, timeout: 3000, retries: 120 })
          .start(),
      ]);
      for (const outcome of [kafkaStart, postgresStart]) if (outcome.status === 'fulfilled') started.push(outcome.value);
      if (kafkaStart.status === 'rejected') throw kafkaStart.reason;
      if (postgresStart.status === 'rejected') throw postgresStart.reason;
      const [kafka, postgres] = [kafkaStart.value, postgresStart.value];
      const cluster = new ContainerCluster(network, kafka, postgres, started);
      const secrets = freshSecrets();
      const gatewayDbPassword = secrets.P2_GATEWAY_DB_PASSWORD;
      const appEnv: Record<string, string> = {
        NODE_ENV: 'production',
        P2_DOMAIN: 'example.com',
        KAFKA_BROKERS: 'kafka:9092',
        DATABASE_URL: 'postgres://postgres:postgres@postgres:5432/polyproto',
        ...secrets,
        LOG_LEVEL: 'warn',
        P2_COMMAND_PARTITIONS: '6',
        P2_REPLY_PARTITIONS: '2',
        P2_EVENT_PARTITIONS: '2',
        ...options.env,
      };
      const app = (name: string, env: Record<string, string> = appEnv) =>
        new GenericContainer(images.app).withNetwork(network).withNetworkAliases(name).withLabels(labels).withEnvironment({ ...env, P2_INSTANCE_ID: name });
      // the gateways connect as their read-only role (the certstores' migrations create it and set its
      // password) and never see the migrating role's password (docs/architecture.md#database-roles)
      const gatewayEnv: Record<string, string> = { ...appEnv, DATABASE_URL: gatewayDatabaseUrl(appEnv.DATABASE_URL!, gatewayDbPassword) };
      delete gatewayEnv.P2_GATEWAY_DB_PASSWORD;
      // the topics first, as docker-compose.yml's kafka-init does
      started.push(
        await app('kafka-init').withCommand(['node', 'scripts/kafka.mjs', 'create-topics']).withWaitStrategy(Wait.forOneShotStartup()).withStartupTimeout(120_000).start(),
      );
      // one at a time: each runs the migrations (locked) and the first one creates the server key
      for (let i = 1; i <= options.certstores; i++) {
        const certstore = await app(`certstore-${i}`)
          .withCommand(['node', '-r', './scripts/register-paths.cjs', 'dist/apps/certstore/src/main.js'])
          .withWaitStrategy(Wait.forLogMessage('[certstore] ready'))
          .withStartupTimeout(120_000)
          .start();
        cluster.certstores.push(certstore);
        started.push(certstore);
      }
      for (let i = 1; i <= options.gateways; i++) {
        const gateway = await app(`gateway-${i}`, gatewayEnv)
          .withCommand(['node', '-r', './scripts/register-paths.cjs', 'dist/apps/gateway/src/main.js'])
          .withExposedPorts(3000)
          .withWaitStrategy(Wait.forHttp('/healthz', 3000).forStatusCode(200))
          .withStartupTimeout(120_000)
          .start();
        cluster.gateways.push(gateway);
        started.push(gateway);
        cluster.gatewayUrls.push(`http://127.0.0.1:${gateway.getMappedPort(3000)}`);
      }
      return cluster;
    } catch (error) {
      await Promise.allSettled(started.map((container) => container.stop()));
      await network.stop().catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    await Promise.allSettled([...this.started].reverse().map((container) => container.stop()));
    await this.network.stop().catch(() => undefined);
  }
}

import { randomBytes } from 'node:crypto';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { loadConfig, requireKeyEncryptionKey, type AppConfig, type ConfigRole } from '@p2/config';
import { gatewayDatabaseUrl, type Clock } from '@p2/platform';
import { createTestDatabase, createTestTopics } from '@p2/testing';
import { startCertstore } from '../../apps/certstore/src/certstore.app';
import { startGateway } from '../../apps/gateway/src/gateway.app';
import { runP2ctl } from '../../apps/p2ctl/src/p2ctl';
import { testAppEnv } from './app-env';

const UNREACHABLE_LIMITS: Record<string, string> = {
  ...Object.fromEntries(['REGISTER', 'SESSION', 'IDENTIFY', 'CHALLENGE', 'SENSITIVE', 'KEYPACKAGE_CLAIM', 'KEYPACKAGE_TARGET'].map((kind) => [`P2_RATE_LIMIT_${kind}`, '1000000,1000000'])),
  P2_LOGIN_LOCKOUT_AFTER: '1000000',
};

export interface ClusterOptions {
  readonly label: string;
  readonly gateways?: number;
  readonly certstores?: number;
  readonly env?: Record<string, string>;
  /** the clock every app of the cluster reads (a TestClock moves them all at once); the system clock by default */
  readonly clock?: Clock;
  /** topic-level settings of the cluster's events topic */
  readonly eventsTopicConfig?: Readonly<Record<string, string>>;
  /** topic-level settings of the cluster's replies topic */
  readonly repliesTopicConfig?: Readonly<Record<string, string>>;
  /** the first gateway's port (default: any free one), for a URL another cluster must know first */
  readonly gatewayPort?: number;
}

/** A whole home server on the real Kafka broker and PostgreSQL server given by `npm test`:
 * its own database and topic prefix, N certstores and M gateways in this process. */
export class TestCluster {
  readonly gatewayUrls: string[] = [];
  private readonly certstores: NestFastifyApplication[] = [];
  private readonly gateways: NestFastifyApplication[] = [];

  private constructor(
    readonly databaseUrl: string,
    readonly topicPrefix: string,
    private readonly baseEnv: Record<string, string>,
    private readonly clock: Clock | undefined,
    private readonly cleanup: () => Promise<void>,
  ) {}

  static async start(options: ClusterOptions): Promise<TestCluster> {
    const db = await createTestDatabase(options.label);
    const topics = await createTestTopics(options.label, undefined, { eventsConfig: options.eventsTopicConfig, repliesConfig: options.repliesTopicConfig });
    const baseEnv: Record<string, string> = {
      ...testAppEnv(db.url, topics.prefix),
      LOG_LEVEL: 'error',
      // the suites hash hundreds of passwords; the default cost is tested in password-rehash.e2e-spec.ts
      P2_PASSWORD_SCRYPT_COST: '14',
      // one client address makes every request of a test: limits that a test does not look at are out of reach
      ...UNREACHABLE_LIMITS,
      ...options.env,
    };
    const cluster = new TestCluster(db.url, topics.prefix, baseEnv, options.clock, async () => {
      await topics.remove().catch(() => undefined);
      await db.drop();
    });
    try {
      for (let i = 0; i < (options.certstores ?? 1); i++) await cluster.addCertstore();
      for (let i = 0; i < (options.gateways ?? 1); i++) await cluster.addGateway({}, i === 0 ? (options.gatewayPort ?? 0) : 0);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** The URL the gateways connect with: the database's read-only gateway role, with the password the migrations gave it. */
  get gatewayDatabaseUrl(): string {
    return gatewayDatabaseUrl(this.databaseUrl, this.baseEnv.P2_GATEWAY_DB_PASSWORD || undefined);
  }

  config(overrides: Record<string, string> = {}, role: ConfigRole = 'all'): AppConfig {
    return loadConfig({ ...this.baseEnv, P2_INSTANCE_ID: `i-${randomBytes(6).toString('hex')}`, ...overrides }, { role });
  }

  /** A running gateway, for tests that look at its in-process state. */
  gatewayApp(index: number): NestFastifyApplication {
    return this.gateways[index]!;
  }

  /** the certstores' P2_KEY_ENCRYPTION_KEY (a rebuild needs it to open sealed key material) */
  get keyEncryptionKey(): Buffer {
    return requireKeyEncryptionKey(this.config({}, 'certstore'));
  }

  get url(): string {
    return this.gatewayUrls[0]!;
  }

  /** The running certstores, to look inside one (e.g. what its signer counted). */
  certstore(index = 0): NestFastifyApplication {
    return this.certstores[index]!;
  }

  async addCertstore(overrides: Record<string, string> = {}): Promise<NestFastifyApplication> {
    const app = await startCertstore(this.config(overrides, 'certstore'), 0, { clock: this.clock });
    this.certstores.push(app);
    return app;
  }

  async addGateway(overrides: Record<string, string> = {}, port = 0): Promise<string> {
    // as in production: the gateway connects as its read-only role, never as the migrating one
    const app = await startGateway(this.config({ DATABASE_URL: this.gatewayDatabaseUrl, ...overrides }, 'gateway'), port, '127.0.0.1', { clock: this.clock });
    this.gateways.push(app);
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    this.gatewayUrls.push(url);
    return url;
  }

  /** Creates an administrator the operator's way, as `p2ctl admins create <name>` against this
   * cluster (POST /register refuses the names of P2_ADMINS). The name must be in the cluster's P2_ADMINS. */
  async createAdmin(name: string, password: string): Promise<void> {
    const { code, output } = await this.p2ctl(['admins', 'create', name], { P2_ADMIN_PASSWORD: password });
    if (code !== 0) throw new Error(`p2ctl admins create ${name} exited ${code}: ${output.join('\n')}`);
  }

  /** Runs p2ctl with the cluster's environment, changed by `changes` (undefined: left out). */
  async p2ctl(args: readonly string[], changes: Record<string, string | undefined> = {}): Promise<{ code: number; output: string[] }> {
    const output: string[] = [];
    const env: Record<string, string> = { ...this.baseEnv, P2_OPERATOR: 'tests' };
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
    const code = await runP2ctl([...args], { env, out: (line) => output.push(line), err: (line) => output.push(line), readStdin: async () => '' });
    return { code, output };
  }

  /** Stops one gateway; its URL stops answering. */
  async stopGateway(index: number): Promise<void> {
    const [app] = this.gateways.splice(index, 1);
    this.gatewayUrls.splice(index, 1);
    await app?.close();
  }

  /** Stops one certstore (graceful Nest shutdown: it leaves the consumer group at once). */
  async stopCertstore(index: number): Promise<void> {
    const [app] = this.certstores.splice(index, 1);
    await app?.close();
  }

  async stopCertstores(): Promise<void> {
    for (const app of this.certstores.splice(0)) await app.close();
  }

  async stop(): Promise<void> {
    for (const app of this.gateways.splice(0)) await app.close().catch(() => undefined);
    await this.stopCertstores().catch(() => undefined);
    await this.cleanup();
  }
}

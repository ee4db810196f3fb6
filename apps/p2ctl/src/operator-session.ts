import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { topicNames, type TopicNames } from '@p2/contracts';
import { CommandBus, RecordPublisher, type KafkaClient } from '@p2/messaging';
import { AuditLog, type AuditInput } from '@p2/observability';
import type { CliIo } from './io';
import { operatorKafka } from './kafka-client';
import type { OperatorEnv } from './operator-env';

/** How long p2ctl waits for a certstore's reply (a key rotation re-signs every cert). */
const REPLY_TIMEOUT_MS = 60_000;

/**
 * What one p2ctl command may use, each opened on first use and closed at the end: Kafka, a
 * command bus (p2ctl sends commands like a gateway, with a replies partition of its own),
 * PostgreSQL, and the audit trail every action is recorded in.
 */
export class OperatorSession {
  readonly topics: TopicNames;
  readonly instanceId = `p2ctl-${randomBytes(6).toString('hex')}`;
  private kafkaClient?: KafkaClient;
  private busStarted?: Promise<CommandBus>;
  private client?: Promise<Client>;
  private auditLog?: AuditLog;

  constructor(
    readonly env: OperatorEnv,
    readonly io: CliIo,
  ) {
    this.topics = topicNames(env.topicPrefix);
  }

  get kafka(): KafkaClient {
    return (this.kafkaClient ??= operatorKafka(this.env, this.io, this.instanceId));
  }

  /** A command bus reading a replies partition of its own (started on first use). */
  bus(): Promise<CommandBus> {
    this.busStarted ??= (async () => {
      const bus = new CommandBus({ kafka: this.kafka, topics: this.topics, instanceId: this.instanceId, timeoutMs: REPLY_TIMEOUT_MS, lingerMs: 0 });
      await bus.start();
      return bus;
    })();
    return this.busStarted;
  }

  db(): Promise<Client> {
    this.client ??= (async () => {
      const client = new Client({ connectionString: this.env.databaseUrl });
      await client.connect();
      return client;
    })();
    return this.client;
  }

  /** Records an operator action (kind `operator.action`, actor `operator:<user>`); says so when
   * the entry could not be written. */
  async audit(input: Omit<AuditInput, 'kind' | 'actor'>): Promise<void> {
    this.auditLog ??= new AuditLog(new RecordPublisher(this.kafka, this.topics.audit), { instance: this.instanceId, role: 'p2ctl' });
    if (!(await this.auditLog.recordNow({ kind: 'operator.action', actor: this.env.operator, ...input }))) {
      this.io.err(`warning: the audit entry for this action could not be written to ${this.topics.audit}`);
    }
  }

  async close(): Promise<void> {
    await this.busStarted?.then((bus) => bus.stop()).catch(() => undefined);
    await this.auditLog?.close();
    await this.client?.then((c) => c.end()).catch(() => undefined);
  }
}

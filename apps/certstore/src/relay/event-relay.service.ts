import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { AppConfig } from '@p2/config';
import { topicNames, type Message } from '@p2/contracts';
import { checkpointOf, LOG_START, PgSession, PostgresEventStore, type LogCheckpoint, type Sql, type StoredEvent } from '@p2/event-store';
import { EventPublisher, type KafkaClient, type OmittedEvent } from '@p2/messaging';
import { ProcessMetrics } from '@p2/observability';
import { APP_CONFIG } from '@p2/platform';
import { KAFKA } from '../messaging/kafka.provider';

/** The relay's row in relay_checkpoints. */
export const RELAY_NAME = 'events-topic';
/** Arbitrary constant: the advisory lock that elects one relay among all certstore instances. */
export const RELAY_LOCK_KEY = 727_001;
const BATCH = 500;
const IDLE_POLL_MS = 100;

/** The connection that holds the relay's lock, and where the relay stands in the log. */
interface Holding {
  readonly client: PoolClient;
  readonly db: Sql;
  checkpoint: LogCheckpoint;
  /** The connection failed (PostgreSQL restarted, the backend was terminated): the lock is gone. */
  broken?: Error;
  readonly onError: (error: Error) => void;
}

/** Transactional outbox relay: the events table is the outbox. One certstore at a time publishes
 * committed events in the order of their transactions (docs/architecture.md#stream-order) to the
 * events topic, then advances its checkpoint. At-least-once:
 * after a crash the last batch may be published again, with the same messageId
 * (`<stream>@<position>`), so consumers can drop duplicates.
 *
 * The election is an advisory lock, and every statement of a relay pass runs on the connection that
 * holds it (docs/architecture.md#relay). A lock lives as long as its connection: when that is cut,
 * the relay's next statement fails there, so the relay stops and stands for election again, instead
 * of relaying on beside the certstore elected after it. Only the lock's holder writes the checkpoint,
 * so it keeps it in memory and reads it once, when elected. */
@Injectable()
export class EventRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventRelayService.name);
  private readonly publisher: EventPublisher;
  private running = false;
  private loop?: Promise<void>;
  private holding?: Holding;
  private wake?: () => void;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(KAFKA) kafka: KafkaClient,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly eventStore: PostgresEventStore,
    private readonly metrics: ProcessMetrics,
  ) {
    this.publisher = new EventPublisher(kafka, topicNames(config.kafkaTopicPrefix).events);
  }

  /** Whether this instance holds the relay lock (it is the one relaying). */
  get isActive(): boolean {
    return this.holding !== undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.publisher.connect();
    this.running = true;
    this.loop = this.run();
  }

  async onApplicationShutdown(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.release();
    await this.publisher.disconnect();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const holding = this.holding ?? (await this.elect());
        if (holding) {
          const published = await this.publishBatch(holding);
          if (published === BATCH) continue;
        }
      } catch (error) {
        this.logger.warn(`relay pass failed, will stand for election again: ${(error as Error).message}`);
        await this.release(error as Error);
      }
      await this.idle(IDLE_POLL_MS * (this.holding ? 1 : 10));
    }
  }

  private async publishBatch(holding: Holding): Promise<number> {
    if (holding.broken) throw holding.broken;
    const events = await this.eventStore.readAllAfter(holding.checkpoint, BATCH, holding.db);
    if (events.length === 0) return 0;
    await this.publisher.publish(
      events.map((event) => ({ key: event.streamId, message: toPublicMessage(event) })),
      (omitted) => this.omitted(omitted),
    );
    const last = checkpointOf(events[events.length - 1]!);
    await holding.db.query(
      `INSERT INTO relay_checkpoints (name, transaction_id, global_position) VALUES ($1, $2::xid8, $3)
       ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
         global_position = EXCLUDED.global_position, updated_at = now()`,
      [RELAY_NAME, last.transactionId, last.globalPosition],
    );
    holding.checkpoint = last;
    return events.length;
  }

  /** The event stays whole in the event store; only its data is missing from the topic. Never
   * the data in the log: it may be secret (sealed key material, token hashes). */
  private omitted({ messageId, type, bytes }: OmittedEvent): void {
    this.metrics.countOmittedPayload(type);
    this.logger.error(`event ${messageId} (${type}, ${bytes} bytes) is over what the events topic takes: published without its data (header payload-omitted)`);
  }

  /** Takes the lock if no other certstore holds it; the checkpoint is read on the same connection,
   * after the lock: what the previous holder last wrote. */
  private async elect(): Promise<Holding | undefined> {
    const client: PoolClient = await (this.dataSource.driver as PostgresDriver).master.connect();
    // The pool listens for errors only on idle connections; unheard, a cut connection would end
    // the process. The relay's next statement fails on it anyway: only noted here.
    const holding: Holding = { client, db: new PgSession(client), checkpoint: LOG_START, onError: (error) => (holding.broken ??= error) };
    client.on('error', holding.onError);
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RELAY_LOCK_KEY]);
      if (!rows[0]!.locked) {
        this.giveBack(holding);
        return undefined;
      }
      holding.checkpoint = (await readRelayCheckpoint(holding.db)) ?? LOG_START;
    } catch (error) {
      this.giveBack(holding, error as Error);
      throw error;
    }
    this.holding = holding;
    this.logger.log('this instance relays events to Kafka');
    return holding;
  }

  /** Stops relaying. After a failure the connection is closed, which ends the lock with it; on a
   * clean stop the lock is given up and the connection goes back to the pool. */
  private async release(failure?: Error): Promise<void> {
    const holding = this.holding;
    this.holding = undefined;
    if (!holding) return;
    if (!failure && !holding.broken) {
      await holding.client.query('SELECT pg_advisory_unlock($1)', [RELAY_LOCK_KEY]).catch((error: Error) => (holding.broken ??= error));
    }
    this.giveBack(holding, failure);
  }

  private giveBack(holding: Holding, failure?: Error): void {
    holding.client.removeListener('error', holding.onError);
    holding.client.release(failure ?? holding.broken);
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The relay's checkpoint as its holder last wrote it; undefined before anything was relayed. */
export async function readRelayCheckpoint(db: Sql): Promise<LogCheckpoint | undefined> {
  const rows: { transaction_id: string; global_position: string }[] = await db.query(
    `SELECT transaction_id::text AS transaction_id, global_position::text AS global_position FROM relay_checkpoints WHERE name = $1`,
    [RELAY_NAME],
  );
  const row = rows[0];
  return row && { transactionId: row.transaction_id, globalPosition: row.global_position };
}

export function toPublicMessage(event: StoredEvent): Message {
  return {
    type: event.type,
    data: event.data,
    metadata: {
      ...event.metadata,
      messageId: `${event.streamId}@${event.streamPosition}`,
      schemaVersion: event.schemaVersion,
      occurredAt: event.recordedAt,
    },
  };
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, QueryRunner } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { topicNames, type Message } from '@p2/contracts';
import { checkpointOf, LOG_START, PostgresEventStore, type LogCheckpoint, type StoredEvent } from '@p2/event-store';
import { EventPublisher, type KafkaClient } from '@p2/messaging';
import { APP_CONFIG } from '@p2/platform';
import { KAFKA } from '../messaging/kafka.provider';

/** The relay's row in relay_checkpoints. */
export const RELAY_NAME = 'events-topic';
/** Arbitrary constant: the advisory lock that elects one relay among all certstore instances. */
const RELAY_LOCK_KEY = 727_001;
const BATCH = 500;
const IDLE_POLL_MS = 100;

/** Transactional outbox relay: the events table is the outbox. One certstore at a time (advisory
 * lock on a dedicated connection) publishes committed events in commit order to the events topic,
 * then advances its checkpoint. At-least-once: after a crash the last batch may be published again,
 * with the same messageId (`<stream>@<position>`), so consumers can drop duplicates. */
@Injectable()
export class EventRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventRelayService.name);
  private readonly publisher: EventPublisher;
  private running = false;
  private loop?: Promise<void>;
  private lockRunner?: QueryRunner;
  private wake?: () => void;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(KAFKA) kafka: KafkaClient,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly eventStore: PostgresEventStore,
  ) {
    this.publisher = new EventPublisher(kafka, topicNames(config.kafkaTopicPrefix).events);
  }

  /** Whether this instance holds the relay lock (it is the one relaying). */
  get isActive(): boolean {
    return this.lockRunner !== undefined;
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
    await this.releaseLock();
    await this.publisher.disconnect();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        if (await this.holdsLock()) {
          const published = await this.publishBatch();
          if (published === BATCH) continue;
        }
      } catch (error) {
        this.logger.warn(`relay pass failed, will retry: ${(error as Error).message}`);
        await this.releaseLock();
      }
      await this.idle(IDLE_POLL_MS * (this.lockRunner ? 1 : 10));
    }
  }

  private async publishBatch(): Promise<number> {
    const checkpoint = await this.readCheckpoint();
    const events = await this.eventStore.readAllAfter(checkpoint, BATCH);
    if (events.length === 0) return 0;
    await this.publisher.publish(events.map((event) => ({ key: event.streamId, message: toPublicMessage(event) })));
    const last = checkpointOf(events[events.length - 1]!);
    await this.dataSource.query(
      `INSERT INTO relay_checkpoints (name, transaction_id, global_position) VALUES ($1, $2::xid8, $3)
       ON CONFLICT (name) DO UPDATE SET transaction_id = EXCLUDED.transaction_id,
         global_position = EXCLUDED.global_position, updated_at = now()`,
      [RELAY_NAME, last.transactionId, last.globalPosition],
    );
    return events.length;
  }

  private async readCheckpoint(): Promise<LogCheckpoint> {
    const rows: { transaction_id: string; global_position: string }[] = await this.dataSource.query(
      `SELECT transaction_id::text AS transaction_id, global_position::text AS global_position FROM relay_checkpoints WHERE name = $1`,
      [RELAY_NAME],
    );
    const row = rows[0];
    return row ? { transactionId: row.transaction_id, globalPosition: row.global_position } : LOG_START;
  }

  private async holdsLock(): Promise<boolean> {
    if (this.lockRunner) return true;
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    const [{ locked }]: { locked: boolean }[] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [RELAY_LOCK_KEY]);
    if (!locked) {
      await runner.release();
      return false;
    }
    this.lockRunner = runner;
    this.logger.log('this instance relays events to Kafka');
    return true;
  }

  private async releaseLock(): Promise<void> {
    const runner = this.lockRunner;
    this.lockRunner = undefined;
    if (!runner) return;
    await runner.query('SELECT pg_advisory_unlock($1)', [RELAY_LOCK_KEY]).catch(() => undefined);
    await runner.release().catch(() => undefined);
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

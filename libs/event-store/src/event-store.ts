import type { DataSource } from 'typeorm';
import type { MessageMetadata } from '@p2/contracts';
import { planOnce, sqlOf, type Sql } from './sql';

export interface NewEvent {
  readonly type: string;
  readonly data: unknown;
  readonly schemaVersion?: number;
}

/** An event as it is (or will be, once its transaction commits) in its stream: what projections
 * need. The log's own columns (global position, transaction id, recording instant) are set by
 * PostgreSQL and read back with StoredEvent. */
export interface AppendedEvent {
  readonly streamId: string;
  readonly streamPosition: number;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  readonly metadata: MessageMetadata;
}

export interface StoredEvent extends AppendedEvent {
  readonly globalPosition: string;
  readonly transactionId: string;
  readonly recordedAt: string;
}

export interface StreamRead {
  /** Number of events in the stream; 0 for a stream that does not exist. */
  readonly version: number;
  readonly events: readonly StoredEvent[];
}

/** Position of a reader of the whole log. Ordered by (transaction id, global position) so that a
 * transaction that committed late, with lower global positions, is never skipped. */
export interface LogCheckpoint {
  readonly transactionId: string;
  readonly globalPosition: string;
}

export const LOG_START: LogCheckpoint = { transactionId: '0', globalPosition: '0' };

interface EventRow {
  global_position: string;
  stream_id: string;
  stream_position: number;
  type: string;
  schema_version: number;
  data: unknown;
  metadata: MessageMetadata;
  transaction_id: string;
  recorded_at: Date;
}

function toStored(row: EventRow): StoredEvent {
  return {
    globalPosition: String(row.global_position),
    streamId: row.stream_id,
    streamPosition: Number(row.stream_position),
    type: row.type,
    schemaVersion: Number(row.schema_version),
    data: row.data,
    metadata: row.metadata,
    transactionId: String(row.transaction_id),
    recordedAt: row.recorded_at.toISOString(),
  };
}

const SELECT_COLUMNS = `global_position, stream_id, stream_position, type, schema_version, data, metadata,
  transaction_id::text AS transaction_id, recorded_at`;

/** The PostgreSQL event store: the `events` table is the truth and, for the relay, the outbox. */
export class PostgresEventStore {
  constructor(private readonly dataSource: DataSource) {}

  /** Runs `work` in one READ COMMITTED transaction (statements one round trip each; the command
   * path uses its own PgSession); appends, projections and the processed-command rows written
   * through the given Sql commit or roll back together. */
  transaction<T>(work: (db: Sql) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      const db = sqlOf(manager);
      const result = await work(db);
      await db.flush();
      return result;
    });
  }

  async readStream(streamId: string, db: Sql = sqlOf(this.dataSource.manager)): Promise<StreamRead> {
    const events = await this.readStreamAfter(streamId, 0, db);
    return { version: events.length, events };
  }

  /** The events of a stream after position `after` (events are never changed or removed, so a
   * state folded up to `after` plus these is the state of the whole stream). */
  async readStreamAfter(streamId: string, after: number, db: Sql = sqlOf(this.dataSource.manager)): Promise<StoredEvent[]> {
    const rows: EventRow[] = await db.query(`SELECT ${SELECT_COLUMNS} FROM events WHERE stream_id = $1 AND stream_position > $2 ORDER BY stream_position`, [
      streamId,
      after,
    ]);
    return rows.map(toStored);
  }

  /** The number of events in the stream (0 when it does not exist): one index probe. */
  async streamVersion(streamId: string, db: Sql = sqlOf(this.dataSource.manager)): Promise<number> {
    const [{ version }]: { version: number }[] = await db.query(`SELECT ${streamVersionSql('$1')} AS version`, [streamId]);
    return version;
  }

  /** Appends after `expectedVersion` (the number of events the caller decided on): one INSERT,
   * deferred to travel with the next statement. No read comes first: positions expectedVersion + 1…
   * are taken as soon as anyone else appended since, so UNIQUE (stream_id, stream_position) refuses
   * the insert (after waiting for a concurrent writer to commit or roll back) and the refusal
   * surfaces, at the next query or flush, as ConcurrencyError. Returns the events as appended. */
  append(db: Sql, streamId: string, expectedVersion: number, events: readonly NewEvent[], metadata: MessageMetadata): AppendedEvent[] {
    if (events.length === 0) return [];
    const appended = events.map((event, i) => ({
      streamId,
      streamPosition: expectedVersion + i + 1,
      type: event.type,
      schemaVersion: event.schemaVersion ?? 1,
      data: event.data,
      metadata,
    }));
    const params: unknown[] = [];
    const values = appended.map((event, i) => {
      params.push(streamId, event.streamPosition, event.type, event.schemaVersion, JSON.stringify(event.data), JSON.stringify(metadata));
      const o = i * 6;
      return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}::jsonb, $${o + 6}::jsonb)`;
    });
    db.defer(planOnce(`INSERT INTO events (stream_id, stream_position, type, schema_version, data, metadata) VALUES ${values.join(', ')}`), params);
    return appended;
  }

  /** Events after `checkpoint`, in the order of their transactions' ids (each stream's own order but
   * for docs/architecture.md#stream-order), never past a transaction that may still commit
   * with a lower position (pg_snapshot_xmin of the current snapshot bounds what is visible for good).
   * ORDER BY names the table's columns: a bare `transaction_id` there is the select list's text
   * alias, which sorted "10" before "9" (a checkpoint inside a batch cut short by the limit then
   * skipped events for good) and could not use the index, so every poll sorted the whole log. */
  async readAllAfter(checkpoint: LogCheckpoint, limit: number, db: Sql = sqlOf(this.dataSource.manager)): Promise<StoredEvent[]> {
    const rows: EventRow[] = await db.query(
      `SELECT ${SELECT_COLUMNS} FROM events
        WHERE (transaction_id, global_position) > ($1::xid8, $2::bigint)
          AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
        ORDER BY events.transaction_id, events.global_position
        LIMIT $3`,
      [checkpoint.transactionId, checkpoint.globalPosition, limit],
    );
    return rows.map(toStored);
  }
}

/** SQL for the version of the stream whose id is `param` (an int; 0 when the stream does not
 * exist), for a statement that reads a stream's version in the same snapshot as the read model a
 * command is decided on. */
export function streamVersionSql(param: string): string {
  return `(SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = ${param})::int`;
}

/** Every event in global-position order (the rebuild tool replays the log with it). */
export async function readByGlobalPosition(db: Sql, afterPosition: string, limit: number): Promise<StoredEvent[]> {
  const rows: EventRow[] = await db.query(
    `SELECT ${SELECT_COLUMNS} FROM events WHERE global_position > $1 ORDER BY global_position LIMIT $2`,
    [afterPosition, limit],
  );
  return rows.map(toStored);
}

export function checkpointOf(event: StoredEvent): LogCheckpoint {
  return { transactionId: event.transactionId, globalPosition: event.globalPosition };
}

/** The stream moved on since it was read: another writer appended first. Callers reload and retry. */
export class ConcurrencyError extends Error {
  readonly code = 'EVENT_STORE_CONCURRENCY';
  constructor(
    readonly streamId: string,
    readonly expectedVersion: number,
  ) {
    super(`Stream ${streamId} is no longer at version ${expectedVersion}.`);
    this.name = 'ConcurrencyError';
  }
}

/** A unique constraint of a projection refused the transaction (e.g. a serial already issued). */
export class UniqueViolationError extends Error {
  readonly code = 'EVENT_STORE_UNIQUE_VIOLATION';
  constructor(readonly constraint: string) {
    super(`Unique constraint ${constraint} refused the write.`);
    this.name = 'UniqueViolationError';
  }
}

interface PgError {
  code?: string;
  constraint?: string;
  detail?: string;
}

const STREAM_POSITION_CONSTRAINT = 'events_stream_id_stream_position_key';

/** Turns PostgreSQL's unique violation (SQLSTATE 23505) into a typed error, or returns undefined.
 * A taken stream position is a ConcurrencyError naming the stream (from the error's detail). */
export function translateUniqueViolation(error: unknown): Error | undefined {
  const pg = (error as { driverError?: PgError }).driverError ?? (error as PgError);
  if (pg?.code !== '23505') return undefined;
  if (pg.constraint === STREAM_POSITION_CONSTRAINT) {
    // detail: Key (stream_id, stream_position)=(actor-a@example.com, 2) already exists.
    const key = /=\((.*), (\d+)\) already exists/.exec(pg.detail ?? '');
    return new ConcurrencyError(key?.[1] ?? 'unknown', key ? Number(key[2]) - 1 : -1);
  }
  return new UniqueViolationError(pg.constraint ?? 'unknown');
}

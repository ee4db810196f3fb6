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
}

const STREAM_POSITION_CONSTRAINT = 'events_stream_id_stream_position_key';

/** Turns PostgreSQL's unique violation (SQLSTATE 23505) into a typed error, or returns undefined. */
export function translateUniqueViolation(error: unknown, streamIds: readonly { streamId: string; expectedVersion: number }[]): Error | undefined {
  const pg = (error as { driverError?: PgError }).driverError ?? (error as PgError);
  if (pg?.code !== '23505') return undefined;
  if (pg.constraint === STREAM_POSITION_CONSTRAINT) {
    const first = streamIds[0] ?? { streamId: 'unknown', expectedVersion: -1 };
    return new ConcurrencyError(first.streamId, first.expectedVersion);
  }
  return new UniqueViolationError(pg.constraint ?? 'unknown');
}

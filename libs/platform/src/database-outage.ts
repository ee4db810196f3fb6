/** SQLSTATEs of a server that is not there to answer (docs/architecture.md#postgres-down): connection
 * exceptions (class 08), shutting down or starting up (57P01–57P03), no connection slot left. */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** Socket errors of a connection that could not be opened or was cut. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** What node-postgres throws without a code when the server goes away or the pool cannot connect in time. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly)/i;
/** SQLSTATEs of a statement stopped before it could do its work (docs/architecture.md#postgres-busy):
 * 57014 query_canceled (statement_timeout, pg_cancel_backend), 55P03 lock_not_available
 * (lock_timeout, NOWAIT) and 40P01 deadlock_detected (the transaction PostgreSQL picked to end a
 * lock cycle; the other one went through, so running it again does too). A maintenance lock (a
 * projection rebuild) makes the first two; PostgreSQL cannot tell that from a statement that is slow
 * on its own. */
const BUSY_SQLSTATE = new Set(['57014', '55P03', '40P01']);

/** Walks the error and what it wraps: TypeORM's QueryFailedError keeps `code` and the driver's error
 * in `driverError`; errors of our own keep theirs in `cause`. */
function anyCause(error: unknown, test: (code: unknown, message: unknown) => boolean): boolean {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const { code, message, driverError, cause } = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (test(code, message)) return true;
    current = driverError ?? cause;
  }
  return false;
}

/**
 * Whether `error` says the database is unavailable (down, restarting, unreachable) rather than that
 * a statement or its data is wrong. Such an error is no fault of the request or command: a command
 * is held and retried until the database is back, a read is answered 503.
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  return anyCause(
    error,
    (code, message) => (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) || (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)),
  );
}

/**
 * Whether `error` says a statement was cancelled before it finished (its statement_timeout passed,
 * an operator cancelled it) or could not get a lock in time: the database is there but busy, most
 * often waiting for a maintenance lock such as a projection rebuild's. No fault of the request or
 * command either, and treated the same way as {@link isDatabaseUnavailable}: the same statement
 * succeeds once the lock is released.
 */
export function isDatabaseBusy(error: unknown): boolean {
  return anyCause(error, (code) => typeof code === 'string' && BUSY_SQLSTATE.has(code));
}

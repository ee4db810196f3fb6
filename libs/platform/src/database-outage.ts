/** SQLSTATEs of a server that is not there to answer (docs/architecture.md#postgres-down): connection
 * exceptions (class 08), shutting down or starting up (57P01–57P03), no connection slot left. */
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;
/** Socket errors of a connection that could not be opened or was cut. */
const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** What node-postgres throws without a code when the server goes away or the pool cannot connect in time. */
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended unexpectedly)/i;

/**
 * Whether `error` says the database is unavailable (down, restarting, unreachable) rather than that
 * a statement or its data is wrong. Such an error is no fault of the request or command: a command
 * is held and retried until the database is back, a read is answered 503. TypeORM wraps driver
 * errors (QueryFailedError keeps `code`, `driverError` the original).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const { code, message, driverError, cause } = current as { code?: unknown; message?: unknown; driverError?: unknown; cause?: unknown };
    if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_ERRNO.has(code))) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGE.test(message)) return true;
    current = driverError ?? cause;
  }
  return false;
}

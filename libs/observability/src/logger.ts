import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino, type DestinationStream, type Logger as PinoLogger, type LoggerOptions } from 'pino';
import pretty from 'pino-pretty';
import type { Options as PinoHttpOptions } from 'pino-http';
import { correlationFromHeaders, currentCorrelation } from './correlation';
import type { ProcessRole } from './process-metrics';

/** Where secrets could show up in a log object; pino replaces them with "[redacted]". Request
 * headers are not logged at all (see the `req` serializer); these paths are the second line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-p2-sensitive-solution"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-p2-sensitive-solution"]',
  'password',
  'passwordHash',
  'passwordRehash',
  'token',
  'auth_payload',
  '*.password',
  '*.passwordHash',
  '*.passwordRehash',
  '*.password_hash',
  '*.token',
  '*.auth_payload',
  '*.keyData',
  '*.key_data',
];

export interface RootLoggerOptions {
  readonly role: ProcessRole | 'p2ctl';
  readonly instance: string;
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly format: 'json' | 'pretty';
  /** append to this file instead of standard output */
  readonly file?: string;
}

/**
 * The process's pino logger: JSON lines (or pino-pretty's output for people), each with the role,
 * the instance id and — inside a request or a command — its correlation id, so that one grep over
 * every process's logs follows a request through gateway, Kafka and certstore.
 */
export function createRootLogger(options: RootLoggerOptions): PinoLogger {
  const settings: LoggerOptions = {
    level: options.level,
    base: { role: options.role, instance: options.instance },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    mixin() {
      const context = currentCorrelation();
      return context ? { correlationId: context.correlationId } : {};
    },
  };
  return pino(settings, destination(options));
}

function destination(options: RootLoggerOptions): DestinationStream {
  if (options.format === 'pretty') {
    return pretty({
      destination: options.file ?? 1,
      mkdir: true,
      colorize: !options.file && process.stdout.isTTY === true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,role,instance',
      messageKey: 'msg',
      sync: false,
    });
  }
  // In blocks of 4 KiB, or every 250 ms, not one write per line: the writes were ~13 % of a busy
  // gateway's CPU. pino flushes what is left when the process exits; a SIGKILL loses at most 250 ms.
  return pino.destination({ dest: options.file ?? 1, mkdir: true, sync: false, minLength: LOG_BLOCK_BYTES, periodicFlush: LOG_FLUSH_MS });
}

const LOG_BLOCK_BYTES = 4096;
const LOG_FLUSH_MS = 250;

const CORRELATION = Symbol('p2.correlation');
type WithCorrelation = IncomingMessage & { [CORRELATION]?: { correlationId: string; traceparent: string } };

/** The correlation of a raw HTTP request, worked out once (the Fastify hook and pino-http both
 * ask, in either order). */
export function correlationOfRequest(request: IncomingMessage): { correlationId: string; traceparent: string } {
  const raw = request as WithCorrelation;
  raw[CORRELATION] ??= correlationFromHeaders(raw.headers);
  return raw[CORRELATION];
}

/** Routes whose every call would drown the log (probes, scrapes). */
const QUIET_PATHS = /^\/(healthz|metrics)(\/|\?|$)/;

const ROUTINE = Symbol('p2.routineAnswer');

/** Marks an answer as routine (a gateway's read served from memory): its access line is logged at
 * debug, not info. Such answers are the bulk of a busy gateway's traffic, and writing a line for
 * each costs more than answering; /metrics still counts them. */
export function markRoutineAnswer(response: ServerResponse): void {
  (response as ServerResponse & { [ROUTINE]?: true })[ROUTINE] = true;
}

function accessLogLevel(req: IncomingMessage, res: ServerResponse, error: Error | undefined): 'error' | 'silent' | 'debug' | 'info' {
  if (error || res.statusCode >= 500) return 'error';
  if (QUIET_PATHS.test(req.url ?? '')) return 'silent';
  return (res as ServerResponse & { [ROUTINE]?: true })[ROUTINE] ? 'debug' : 'info';
}

/** The access line's message: method, target and status (and for a 5xx, that it failed). */
function accessMessage(req: IncomingMessage, res: ServerResponse): string {
  const line = `${req.method} ${req.url} ${res.statusCode}`;
  return res.statusCode >= 500 ? `${line}: failed with status code ${res.statusCode}` : line;
}

/**
 * Writes the access line of an answered request straight from the HTTP server's response hook:
 * the same line pino-http writes (`reqId`, `req` {id, method, url, remoteAddress}, `res`
 * {statusCode}, `responseTime` in ms, at the same levels), without a child logger per request nor
 * a framework middleware to carry it. The fields are fixed and hold no header or body, so the
 * line skips the redaction every other line goes through (it has nothing to redact).
 */
export function accessLogger(logger: PinoLogger): (req: IncomingMessage & { id?: unknown }, res: ServerResponse, responseTimeMs: number) => void {
  const lines = logger.child({}, { redact: [] });
  return (req, res, responseTimeMs) => {
    const level = accessLogLevel(req, res, undefined);
    if (level === 'silent' || !lines.isLevelEnabled(level)) return;
    const id = req.id ?? correlationOfRequest(req).correlationId;
    lines[level](
      { reqId: id, req: { id, method: req.method, url: req.url, remoteAddress: req.socket?.remoteAddress }, res: { statusCode: res.statusCode }, responseTime: Math.round(responseTimeMs) },
      accessMessage(req, res),
    );
  };
}

/** pino-http settings (nestjs-pino): one line per answered request, with its correlation id as
 * the request id, its status and time; no headers, no bodies. */
export function httpLoggerOptions(logger: PinoLogger): PinoHttpOptions {
  return {
    logger,
    genReqId: (req) => correlationOfRequest(req).correlationId,
    quietReqLogger: true,
    // (not autoLogging.ignore: pino-http deletes that option from the object it is given, and
    // nestjs-pino hands the same object to it more than once)
    customLogLevel: (req, res: ServerResponse, error) => accessLogLevel(req, res, error),
    customSuccessMessage: (req, res) => `${req.method} ${req.url} ${res.statusCode}`,
    customErrorMessage: (req, res, error) => `${req.method} ${req.url} ${res.statusCode}: ${error.message}`,
    // pino-http makes up an Error (with its own stack) for every 5xx; the status says all of it
    customErrorObject: (_req, _res, error, value: Record<string, unknown>) => (/^failed with status code/.test(error.message) ? { ...value, err: undefined } : value),
    serializers: {
      req: (req: { id?: unknown; method?: string; url?: string; remoteAddress?: string }) => ({ id: req.id, method: req.method, url: req.url, remoteAddress: req.remoteAddress }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  };
}

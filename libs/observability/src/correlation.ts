import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync } from 'node:crypto';

/** What follows one request (or one command) through the processes that work on it. */
export interface CorrelationContext {
  /** the id that one grep over every process's logs follows: the command envelope's correlationId */
  readonly correlationId: string;
  /** W3C trace context of the current span (OpenTelemetry-compatible), sent along in Kafka headers */
  readonly traceparent: string;
  /** HTTP only: the client's address (behind a proxy: the forwarded one) and the route pattern */
  readonly clientAddress?: string;
  readonly route?: string;
}

const storage = new AsyncLocalStorage<CorrelationContext>();

/** Runs `work` with `context` as the current correlation (for everything it awaits too). */
export function runWithCorrelation<T>(context: CorrelationContext, work: () => T): T {
  return storage.run(context, work);
}

/** The correlation of the request or command being handled, if any. */
export function currentCorrelation(): CorrelationContext | undefined {
  return storage.getStore();
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/** Ids a client may choose for X-Request-Id: enough for UUIDs, ULIDs and the like, nothing that
 * could break a log line or a header. */
const REQUEST_ID = /^[A-Za-z0-9._:@+=\-/]{1,128}$/;

export interface TraceContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly flags: string;
}

/** Reads a W3C `traceparent` (version 00 layout; all-zero ids are invalid). */
export function parseTraceparent(value: string | undefined): TraceContext | undefined {
  const match = value ? TRACEPARENT.exec(value.trim().toLowerCase()) : null;
  if (!match || match[1] === 'ff') return undefined;
  const [, , traceId, spanId, flags] = match;
  if (/^0+$/.test(traceId!) || /^0+$/.test(spanId!)) return undefined;
  return { traceId: traceId!, spanId: spanId!, flags: flags! };
}

/** A traceparent for a new span: a child of `parent` (same trace), or the root of a new trace. */
export function childTraceparent(parent?: string): string {
  const trace = parseTraceparent(parent);
  const spanId = randomHex(8);
  return trace ? `00-${trace.traceId}-${spanId}-${trace.flags}` : `00-${randomHex(16)}-${spanId}-01`;
}

/** Random bytes for trace and span ids, drawn from a pool refilled from the CSPRNG: every HTTP
 * request and every command takes one or two, and a `randomBytes` call each cost ~3 µs (OpenSSL
 * per call), 1–2 % of each process's busy time in a write profile (docs/benchmarks.md). The ids are
 * not secrets; they only must not repeat. */
const randomPool = Buffer.alloc(4096);
let randomOffset = randomPool.length;
function randomHex(bytes: number): string {
  if (randomOffset + bytes > randomPool.length) {
    randomFillSync(randomPool);
    randomOffset = 0;
  }
  const hex = randomPool.toString('hex', randomOffset, randomOffset + bytes);
  randomOffset += bytes;
  return hex;
}

/** The trace id of a traceparent (undefined when it is not one). */
export function traceIdOf(traceparent: string | undefined): string | undefined {
  return parseTraceparent(traceparent)?.traceId;
}

/**
 * The correlation of an incoming HTTP request: its `X-Request-Id` when the client sent a usable
 * one, else the trace id of its `traceparent`, else a new id; and a span of this process in the
 * client's trace (or in a new one).
 */
export function correlationFromHeaders(headers: Readonly<Record<string, string | string[] | undefined>>): { correlationId: string; traceparent: string } {
  const first = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const traceparent = childTraceparent(first('traceparent'));
  const requestId = first('x-request-id')?.trim();
  const correlationId = requestId && REQUEST_ID.test(requestId) ? requestId : traceIdOf(traceparent)!;
  return { correlationId, traceparent };
}

import { createHash, X509Certificate } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { markRoutineAnswer } from '@p2/observability';
import type { Clock } from '@p2/platform';
import { parseFederationId } from '@p2/polyproto';
import type { FillTicket } from './bounded-lru';
import { actorKey, type CachedAnswer, type ReadCache } from './read-cache';

export type AnswerKind = 'idcert/actor' | 'key/actor' | 'idcert/server' | 'key/server';

export const BASE = '/.p2/core/v1/';
const ROUTES: ReadonlyMap<string, AnswerKind> = new Map<string, AnswerKind>([
  [`${BASE}idcert/actor/:fid`, 'idcert/actor'],
  [`${BASE}key/actor/:fid`, 'key/actor'],
  [`${BASE}idcert/server`, 'idcert/server'],
  [`${BASE}key/server`, 'key/server'],
]);

interface CacheableRequest {
  readonly kind: AnswerKind;
  readonly key: string;
  readonly ticket?: FillTicket;
}

/**
 * Serves the hot certificate reads from the {@link ReadCache} before the framework runs, and fills
 * it from the answers the controllers send (docs/architecture.md#read-cache). Only the current
 * form of each read is cached: a query string, a body, or a federation ID not written in its one
 * canonical form (percent-escapes, capitals) goes to the controller every time. Every 200 answer of
 * these routes, to a GET or a HEAD, gets a strong ETag, `304 Not Modified` for a matching If-None-Match, and a
 * Cache-Control within its signed cache window (docs/protocol.md#http-caching).
 */
export function installReadCache(fastify: FastifyInstance, cache: ReadCache, clock: Clock): void {
  const pending = new WeakMap<FastifyRequest, CacheableRequest>();

  // callback hooks, not async ones: every request of every route runs them (no promise each)
  fastify.addHook('onRequest', (request, reply, done) => {
    const route = cacheableRequest(request);
    if (!route) return done();
    const now = clock.now().getTime();
    const answer = cache.lookup(route.key, now);
    // answered from memory: the chain stops here (done is not called)
    if (answer) return sendAnswer(request, reply, answer, now);
    const ticket = cache.beginFill(route.key);
    pending.set(request, ticket ? { ...route, ticket } : route);
    done();
  });

  fastify.addHook('onSend', (request, reply, payload, done) => {
    const route = pending.get(request);
    if (!route) return done(null, payload);
    pending.delete(request);
    if (reply.statusCode !== 200 || (typeof payload !== 'string' && !Buffer.isBuffer(payload))) return done(null, payload);
    const now = clock.now().getTime();
    const answer = answerOf(route.kind, Buffer.from(payload), String(reply.getHeader('content-type') ?? 'application/json; charset=utf-8'), now, cache.maxAgeMs);
    if (!answer) return done(null, payload);
    if (route.ticket) cache.store(route.ticket, answer);
    setCacheHeaders(reply, answer, now);
    if (!notModified(request, answer)) return done(null, payload);
    void reply.code(304);
    done(null, '');
  });
}

function cacheableRequest(request: FastifyRequest): Omit<CacheableRequest, 'ticket'> | undefined {
  // the framework answers a HEAD with the GET handler's answer, so a HEAD gets the same validators
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const kind = ROUTES.get(request.routeOptions.url ?? '');
  if (kind === undefined) return undefined;
  // a query or a body asks for another form than the current one
  if (request.url.includes('?') || request.headers['transfer-encoding'] !== undefined) return undefined;
  const length = request.headers['content-length'];
  if (length !== undefined && length !== '0') return undefined;
  if (kind === 'idcert/server' || kind === 'key/server') return { kind, key: kind };
  // one key per actor: only the canonical spelling, which is what invalidations name
  if (request.url.includes('%')) return undefined;
  const fid = (request.params as { fid?: unknown }).fid;
  if (typeof fid !== 'string' || !isCanonicalFederationId(fid)) return undefined;
  return { kind, key: actorKey(kind === 'idcert/actor' ? 'idcert' : 'key', fid) };
}

function isCanonicalFederationId(fid: string): boolean {
  try {
    return parseFederationId(fid).toString() === fid;
  } catch {
    return false;
  }
}

function sendAnswer(request: FastifyRequest, reply: FastifyReply, answer: CachedAnswer, now: number): void {
  markRoutineAnswer(reply.raw);
  setCacheHeaders(reply, answer, now);
  if (notModified(request, answer)) {
    void reply.code(304).send();
    return;
  }
  void reply.header('content-type', answer.contentType).send(answer.body);
}

function setCacheHeaders(reply: FastifyReply, answer: CachedAnswer, now: number): void {
  void reply.header('etag', answer.etag);
  void reply.header('cache-control', cacheControlOf(answer, now));
}

/** Within the answer's signed cache window; without one, HTTP caches revalidate. */
export function cacheControlOf(answer: CachedAnswer, now: number): string {
  return answer.windowEndsAt === undefined ? 'no-cache' : `public, max-age=${Math.max(0, Math.floor((answer.windowEndsAt - now) / 1000))}`;
}

function notModified(request: FastifyRequest, answer: CachedAnswer): boolean {
  return ifNoneMatchNames(request.headers['if-none-match'], answer);
}

/** If-None-Match compares weakly (RFC 9110 §13.1.2): `W/` is ignored, `*` matches any answer. */
export function ifNoneMatchNames(header: string | undefined, answer: CachedAnswer): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((tag) => tag.trim().replace(/^W\//, ''))
    .some((tag) => tag === '*' || tag === answer.etag);
}

/** The cached form of a 200 answer, served until the earliest of its cache windows' ends, its
 * certificates' notAfter (a cert past it leaves the current answer) and `maxAgeMs` from now;
 * undefined when the answer is not the shape expected (it is then sent, not kept). */
export function answerOf(kind: AnswerKind, body: Buffer, contentType: string, now: number, maxAgeMs: number): CachedAnswer | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  const ends: number[] = [now + maxAgeMs];
  let windowEndsAt: number | undefined;
  const windowEnd = (item: unknown): number | undefined => {
    const seconds = (item as { cacheNotValidAfter?: unknown } | null)?.cacheNotValidAfter;
    return typeof seconds === 'number' && Number.isSafeInteger(seconds) ? seconds * 1000 : undefined;
  };
  switch (kind) {
    case 'idcert/server': {
      windowEndsAt = windowEnd(json);
      if (windowEndsAt === undefined) return undefined;
      break;
    }
    case 'idcert/actor': {
      if (!Array.isArray(json)) return undefined;
      for (const item of json as unknown[]) {
        const end = windowEnd(item);
        const notAfter = certNotAfter((item as { idCertPem?: unknown }).idCertPem);
        if (end === undefined || notAfter === undefined) return undefined;
        windowEndsAt = Math.min(windowEndsAt ?? end, end);
        ends.push(end, notAfter);
      }
      break;
    }
    case 'key/actor': {
      const pems = (json as { idcerts?: unknown } | null)?.idcerts;
      if (!Array.isArray(pems)) return undefined;
      for (const pem of pems as unknown[]) {
        const notAfter = certNotAfter(pem);
        if (notAfter === undefined) return undefined;
        ends.push(notAfter);
      }
      break;
    }
    case 'key/server':
      if (typeof json !== 'string') return undefined;
      break;
  }
  const expiresAt = Math.min(...ends, windowEndsAt ?? Infinity);
  return {
    body,
    contentType,
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`,
    expiresAt,
    ...(windowEndsAt === undefined ? {} : { windowEndsAt: Math.min(windowEndsAt, expiresAt) }),
  };
}

/** A certificate is current through its notAfter, inclusive: kept strictly before it. */
function certNotAfter(pem: unknown): number | undefined {
  if (typeof pem !== 'string') return undefined;
  try {
    const notAfter = Date.parse(new X509Certificate(pem).validTo);
    return Number.isNaN(notAfter) ? undefined : notAfter;
  } catch {
    return undefined;
  }
}

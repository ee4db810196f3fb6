import { createServer, type IncomingMessage, type Server, type ServerOptions, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger as PinoLogger } from 'pino';
import { correlationOfRequest, type ProcessMetrics } from '@p2/observability';
import type { Clock } from '@p2/platform';
import { CORS_ANSWER_HEADERS } from '../http/cors';
import { connectRefused, expectationFailed, headerRefusal, MAX_PARAM_LENGTH, refusePipelinedBeyondBound } from '../http/framework-errors';
import { actorKey, type CachedAnswer, type ReadCache } from './read-cache';
import { BASE, cacheControlOf, ifNoneMatchNames } from './read-cache.http';

/** A node:http request handler that answers some requests itself: true when it did. */
export type PreRouter = (request: IncomingMessage, response: ServerResponse) => boolean;

export interface PreRoutedServerOptions {
  readonly http: ServerOptions;
  readonly keepAliveTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly idleTimeoutMs: number;
}

/**
 * The gateway's HTTP server (Fastify's `serverFactory`): what Fastify would build from the same
 * options, with a pre-router in front of Fastify's handler. The pre-router is read per request,
 * since the read cache it serves from exists only once the application is built, after the server.
 */
export function preRoutedServer(handler: (request: IncomingMessage, response: ServerResponse) => void, options: PreRoutedServerOptions, preRouter: () => PreRouter | undefined): Server {
  // Node's answer to an HTTP/1.1 request without Host has no body: Fastify refuses it instead
  // (installHeaderChecks), and so the pre-router leaves it alone
  const server = createServer({ ...options.http, requireHostHeader: false }, (request, response) => {
    if (refusePipelinedBeyondBound(request, response)) return;
    // once closing, Fastify answers (503 and Connection: close) so that keep-alive clients let go;
    // a request with refused headers is Fastify's to refuse, cached route or not
    if (server.listening && headerRefusal(request) === undefined && preRouter()?.(request, response)) return;
    handler(request, response);
  });
  // an Expect other than 100-continue, which Node would answer with an empty 417
  server.on('checkExpectation', expectationFailed);
  server.on('connect', connectRefused);
  server.keepAliveTimeout = options.keepAliveTimeoutMs;
  server.requestTimeout = options.requestTimeoutMs;
  server.setTimeout(options.idleTimeoutMs);
  return server;
}

const ACTOR_ROUTES = [
  { prefix: `${BASE}idcert/actor/`, route: 'idcert' as const },
  { prefix: `${BASE}key/actor/`, route: 'key' as const },
];
const SERVER_ROUTES: ReadonlyMap<string, string> = new Map([
  [`${BASE}idcert/server`, 'idcert/server'],
  [`${BASE}key/server`, 'key/server'],
]);

/** The cache key and the route pattern (as Fastify names it in the metrics) of a request target in
 * its one canonical form; undefined for any other target. */
function cachedRequestTarget(url: string): { key: string; route: string } | undefined {
  const server = SERVER_ROUTES.get(url);
  if (server !== undefined) return { key: server, route: url };
  for (const { prefix, route } of ACTOR_ROUTES) {
    if (!url.startsWith(prefix)) continue;
    const fid = url.slice(prefix.length);
    // Only canonical federation IDs are ever stored (the fill checks), so an exact key match is one;
    // an escape, a query or another path segment is left to the router.
    if (fid === '' || fid.length > MAX_PARAM_LENGTH || /[%?/#]/.test(fid)) return undefined;
    return { key: actorKey(route, fid), route: `${prefix}:fid` };
  }
  return undefined;
}

/**
 * Answers the cached certificate reads (docs/architecture.md#read-cache) before Fastify runs: a GET
 * or HEAD of the canonical form of one of the four routes, without a body, whose answer is in the
 * cache. The answer is what the framework's path would send for it (the read cache's hook): the
 * cached bytes with ETag, Cache-Control and Content-Type, a 304 for a matching If-None-Match, the
 * X-Request-Id of the request, the CORS headers when it has an Origin; it is counted in /metrics
 * and logged at debug like the framework's routine answers. Everything else (a miss, another form,
 * another route) goes on to Fastify.
 */
export function cachedReadPreRouter(cache: ReadCache, clock: Clock, metrics: ProcessMetrics, accessLog: () => PinoLogger | undefined): PreRouter {
  return (request, response) => {
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || request.url === undefined) return false;
    const target = cachedRequestTarget(request.url);
    if (target === undefined) return false;
    // a body asks for another form than the current one (the controllers read GET bodies too)
    const length = request.headers['content-length'];
    if ((length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined) return false;
    const started = performance.now();
    const now = clock.now().getTime();
    const answer = cache.lookup(target.key, now);
    if (answer === undefined) return false;
    const status = send(request, response, answer, now);
    const elapsedMs = performance.now() - started;
    metrics.observeHttp(target.route, method, status, elapsedMs / 1000);
    const logger = accessLog();
    if (logger?.isLevelEnabled('debug')) {
      const id = correlationOfRequest(request).correlationId;
      logger.debug({ req: { id, method, url: request.url }, res: { statusCode: status }, responseTime: Math.round(elapsedMs) }, `${method} ${request.url} ${status}`);
    }
    return true;
  };
}

function send(request: IncomingMessage, response: ServerResponse, answer: CachedAnswer, now: number): number {
  const headers: Record<string, string | number> = {
    'x-request-id': correlationOfRequest(request).correlationId,
    ...(request.headers.origin ? CORS_ANSWER_HEADERS : {}),
    etag: answer.etag,
    'cache-control': cacheControlOf(answer, now),
  };
  if (ifNoneMatchNames(request.headers['if-none-match'], answer)) {
    response.writeHead(304, headers);
    response.end();
    return 304;
  }
  headers['content-type'] = answer.contentType;
  headers['content-length'] = answer.body.length;
  response.writeHead(200, headers);
  // a HEAD answer has the headers of the GET answer and no body (Node sends none for HEAD)
  response.end(request.method === 'HEAD' ? undefined : answer.body);
  return 200;
}

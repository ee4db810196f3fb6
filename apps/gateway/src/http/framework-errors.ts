import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODE, type ErrorBody } from '@p2/contracts';
import { correlationOfRequest } from '@p2/observability';
import { isGetOnly } from './get-only.guard';

/** Longest request target answered by a route; longer ones are a 414 (a federation ID is at most
 * 320 characters, so no route needs more than a few hundred). */
export const MAX_URL_LENGTH = 8192;
/** A path parameter is at most a federation ID (320 characters); the router's default is 100. */
export const MAX_PARAM_LENGTH = 512;

export const errorBody = (errcode: number, error: string, message: string): ErrorBody => ({ errcode, error, message });

/** The answer to an Expect other than 100-continue, wherever it is met. */
export const EXPECTATION_FAILED: ErrorBody = errorBody(417, ERROR_CODE.expectationFailed, 'This server meets no expectation but 100-continue.');

/** The router's own refusals, raised before any hook or route runs: a path that is not valid
 * percent-encoded UTF-8, and a path parameter over MAX_PARAM_LENGTH (docs/protocol.md#framework-errors). */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const body =
    error.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? errorBody(414, ERROR_CODE.uriTooLong, `A path parameter is longer than ${MAX_PARAM_LENGTH} characters.`)
      : errorBody(400, ERROR_CODE.malformedRequest, 'The path is not valid percent-encoded UTF-8.');
  void reply.status(body.errcode).header('content-type', 'application/json; charset=utf-8').send(body);
}

/** An answer with the error body as raw bytes, for a socket no ServerResponse writes on (a request
 * Node's parser refused, an upgrade request): it says Connection: close, since the socket is closed after it. */
export function rawErrorAnswer(body: ErrorBody, headers: Record<string, string> = {}): string {
  const text = JSON.stringify(body);
  const extra = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${body.errcode} ${STATUS_CODES[body.errcode]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
    `Content-Length: ${Buffer.byteLength(text)}\r\n${extra}Connection: close\r\n\r\n${text}`
  );
}

/** Errors Node's HTTP parser raises before a request exists (headers over its limit, a request that
 * does not parse, a request timeout): answered on the raw socket, which is then closed. */
export function clientErrorHandler(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const body =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? errorBody(431, ERROR_CODE.headersTooLarge, 'The request line and headers are larger than this server reads.')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? errorBody(408, ERROR_CODE.requestTimeout, 'The request was not received in time.')
        : errorBody(400, ERROR_CODE.malformedRequest, 'The request is not valid HTTP/1.1.');
  if (socket.writable) socket.write(rawErrorAnswer(body));
  socket.destroy(error);
}

/** Headers a request may carry once only, as headerRefusal counts them (lower case). */
type OnceOnly = 'host' | 'authorization' | 'x-p2-sensitive-solution';

/** How many times each header of {@link OnceOnly} is in the request as sent: Node keeps only the first Host
 * or Authorization and drops the others without a word, and joins two X-P2-Sensitive-Solution with a
 * comma into a password nobody sent. */
function countOnceOnly(request: IncomingMessage): Record<OnceOnly, number> {
  const counts: Record<OnceOnly, number> = { host: 0, authorization: 0, 'x-p2-sensitive-solution': 0 };
  const raw = request.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const sent = raw[i]!;
    // by length first: this runs on every request, and most names are none of the three
    if (sent.length !== 4 && sent.length !== 13 && sent.length !== 23) continue;
    const name = sent.toLowerCase();
    // own keys only: a header named like an Object.prototype member (`constructor`) is none of them
    if (Object.hasOwn(counts, name)) counts[name as OnceOnly]++;
  }
  return counts;
}

/**
 * What Node would have refused, or silently picked from, in a request's headers: an HTTP/1.1 request
 * without Host (RFC 9112 §3.2; the server is created with `requireHostHeader: false` so that this
 * answer carries the error body, where Node's own is an empty 400), more than one Host, more than
 * one Authorization (Node keeps the first; a proxy in front may act on another one, so the two would
 * disagree on who is asking: neither is taken) or X-P2-Sensitive-Solution (joined, it is a wrong
 * password that would count toward the actor's lock-out). And a transfer coding other than chunked
 * (`gzip, chunked`): Node reads the body as chunked and would hand the route the compressed bytes, so
 * it is 501 (RFC 9112 §6.1). Undefined when none applies.
 */
export function headerRefusal(request: IncomingMessage): ErrorBody | undefined {
  const counts = countOnceOnly(request);
  if (counts.host === 0 && request.httpVersionMajor === 1 && request.httpVersionMinor === 1) {
    return errorBody(400, ERROR_CODE.malformedRequest, 'An HTTP/1.1 request must carry a Host header.');
  }
  if (counts.host > 1) return errorBody(400, ERROR_CODE.malformedRequest, 'The request carries more than one Host header.');
  if (counts.authorization > 1) return errorBody(400, ERROR_CODE.malformedRequest, 'The request carries more than one Authorization header.');
  if (counts['x-p2-sensitive-solution'] > 1) return errorBody(400, ERROR_CODE.malformedRequest, 'The request carries more than one X-P2-Sensitive-Solution header.');
  const coding = request.headers['transfer-encoding'];
  if (coding !== undefined && coding.trim().toLowerCase() !== 'chunked') {
    return errorBody(501, ERROR_CODE.notImplemented, 'This server reads no transfer coding but chunked.');
  }
  return undefined;
}

/** Runs `then` once the connection has no answer being written: Node hands a pipelined CONNECT or
 * Upgrade over (to 'connect', 'upgrade') while the answers of the requests before it may still be
 * in progress, and anything written on the socket then lands in the middle of them. A connection
 * whose answer ended without finishing (the client went away) is destroyed instead. */
export function whenAnswered(socket: Socket, then: () => void): void {
  const answering = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!answering) return then();
  answering.once('finish', () => setImmediate(() => (socket.destroyed ? undefined : whenAnswered(socket, then))));
  answering.once('close', () => setImmediate(() => (answering.writableFinished ? undefined : socket.destroy())));
}

/** How long a connection refused or answered outside the routes is kept for the client to close first. */
const LINGER_MS = 2000;

/** Ends the socket once the answer is written. What the client still sends (a body, frames) is read
 * and dropped: a socket closed with unread bytes is reset, and the reset can overtake the answer. */
export function closeAfterAnswer(socket: Socket): void {
  socket.resume();
  socket.end();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Writes `body` as the answer on a socket no ServerResponse writes on, and closes it after. */
export function refuseOnSocket(socket: Socket, body: ErrorBody, headers: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.write(rawErrorAnswer(body, headers));
  closeAfterAnswer(socket);
}

/** Node's 'connect' listener: this server is no proxy. Without a listener Node closes the socket
 * without a word. */
export function connectRefused(_request: IncomingMessage, socket: Socket): void {
  // Node took its own error listener off the socket when it handed it over
  socket.on('error', () => socket.destroy());
  whenAnswered(socket, () => refuseOnSocket(socket, errorBody(501, ERROR_CODE.notImplemented, 'This server is no proxy: it answers no CONNECT.')));
}

/**
 * Refuses what headerRefusal finds on every route, the unknown ones included, before anything reads
 * the request. An onRequest hook, not the bearer guard: a guard runs only on the routes that take a
 * token, and a second Authorization is as ambiguous on an open route (a proxy may have authorised
 * the request by the other one), and the body is not read for a request refused anyway.
 */
export function installHeaderChecks(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const body = headerRefusal(request.raw);
    if (body === undefined) return done();
    // a body in a coding this server does not read is not trusted to end where Node thinks it does
    if (body.errcode === 501) void reply.header('connection', 'close');
    // answered here: the chain stops (done is not called)
    void reply.status(body.errcode).header('content-type', 'application/json; charset=utf-8').send(body);
  });
}

/** Requests one connection may have taken and not yet answered. HTTP/1.1 lets a client send many
 * requests without waiting (pipelining), and Node takes every request of a chunk at once: a few
 * connections each writing thousands of reads in one go held every database connection of the
 * gateway, and other clients waited and got 503. No client pipelines this deep for good reason. */
export const MAX_PIPELINED_REQUESTS = 32;
const unanswered = new WeakMap<object, number>();

/**
 * Counts `request` against what its connection has not been answered yet; past
 * {@link MAX_PIPELINED_REQUESTS}, answers it `429 P2CORE_RATE_LIMITED` (after the answers before it,
 * as HTTP/1.1 orders them) and closes the connection after that answer: the requests behind it in
 * the same write get the same answer, no route runs for them, and nothing later is read. True when
 * it answered.
 */
export function refusePipelinedBeyondBound(request: IncomingMessage, response: ServerResponse): boolean {
  // Node gives the connection to an answer at once when no other is being written: such a request
  // waits behind nothing and costs nothing here (the common case: this runs on every request)
  if (response.socket !== null) return false;
  const connection = request.socket;
  // the answers queued behind the one being written, this one included
  const queued = (unanswered.get(connection) ?? 0) + 1;
  unanswered.set(connection, queued);
  // 'close' comes for every queued answer once written (a queued answer of a connection that
  // closed never comes, and neither does the connection's count, which goes with it)
  response.once('close', () => unanswered.set(connection, (unanswered.get(connection) ?? 1) - 1));
  if (queued + 1 <= MAX_PIPELINED_REQUESTS) return false;
  const body = errorBody(429, ERROR_CODE.rateLimited, `This connection has more than ${MAX_PIPELINED_REQUESTS} requests waiting for their answers; wait for them (or open another connection). Try again in 1 s.`);
  answerAndClose(request, response, body, { 'retry-after': '1' });
  return true;
}

/** Writes `body` as the answer on a response Fastify never sees, and closes the connection after it. */
function answerAndClose(request: IncomingMessage, response: ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.shouldKeepAlive = false;
  response.writeHead(body.errcode, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
    'x-request-id': correlationOfRequest(request).correlationId,
  });
  response.end(text);
}

/** Node's 'checkExpectation' listener: an Expect other than 100-continue (which Node answers itself)
 * is a 417 with the error body, where Node's own has none. */
export function expectationFailed(request: IncomingMessage, response: ServerResponse): void {
  // the body the client holds back is never read: the connection ends with this answer
  answerAndClose(request, response, EXPECTATION_FAILED);
}

/** A request target longer than MAX_URL_LENGTH is a 414 before anything else reads it. */
export function installUrlLengthLimit(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    if (request.url.length <= MAX_URL_LENGTH) return done();
    const body = errorBody(414, ERROR_CODE.uriTooLong, `The request target is longer than ${MAX_URL_LENGTH} characters.`);
    // answered here: the chain stops (done is not called)
    void reply.status(414).header('content-type', 'application/json; charset=utf-8').send(body);
  });
}

const ROUTE_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** The router Fastify routes with, its own dependency: a second instance of it matches a path to
 * the same route as Fastify's, by construction. */
const FindMyWay = createRequire(require.resolve('fastify'))('find-my-way') as typeof import('find-my-way');

/** Per Fastify instance, its HEAD routes again, each stored with whether it refuses HEAD. */
const headRoutes = new WeakMap<FastifyInstance, ReturnType<typeof FindMyWay>>();

/**
 * Records the HEAD routes as they are registered, so a 405 can tell which HEAD a path refuses
 * (GetOnly). Fastify's `findRoute` says which methods have a route at a path but not which route
 * (nor its configuration), and a pattern matched by hand could pick another route than the router
 * does (`/keypackage/@me` is both a POST of its own and the `:fid` of a GET-only GET); a router of
 * the same kind, with the same options and the same HEAD routes, answers exactly as Fastify's.
 * Install before the routes are registered.
 */
export function installHeadRefusals(fastify: FastifyInstance): void {
  const { routerOptions = {}, caseSensitive } = fastify.initialConfig;
  // the constraint strategies are copied: the router marks each as it takes it, and these are frozen
  const constraints = Object.fromEntries(Object.entries(routerOptions.constraints ?? {}).map(([name, strategy]) => [name, { ...strategy }]));
  const router = FindMyWay({ ...routerOptions, caseSensitive: routerOptions.caseSensitive ?? caseSensitive, constraints });
  headRoutes.set(fastify, router);
  fastify.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.includes('HEAD')) return;
    // Fastify's HEAD twin of a GET route is built from the GET's options: the GetOnly mark comes along
    router.on('HEAD', route.url, { constraints: route.constraints ?? {} }, () => undefined, { refused: isGetOnly(route.config) });
  });
}

/** The methods that have a route at this request's path; empty when the path has none. The
 * catch-all OPTIONS route that answers CORS preflights on every path does not count, nor a HEAD
 * the route refuses (a GetOnly GET's). */
export function allowedMethods(request: FastifyRequest): string[] {
  const url = request.url.split('?')[0]!;
  return ROUTE_METHODS.filter((method) => {
    const route = request.server.findRoute({ method, url });
    if (route === null || (route.params && '*' in route.params)) return false;
    return method !== 'HEAD' || headRoutes.get(request.server)?.find('HEAD', url)?.store?.refused !== true;
  });
}

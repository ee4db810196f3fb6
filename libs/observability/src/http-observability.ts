import type { FastifyInstance } from 'fastify';
import type { Logger as PinoLogger } from 'pino';
import { runWithCorrelation } from './correlation';
import { accessLogger, correlationOfRequest } from './logger';
import type { ProcessMetrics } from './process-metrics';

/** Probes and scrapes: answered, but neither counted nor logged (they would drown the figures). */
const UNCOUNTED = /^\/(healthz|metrics)(\/|$)/;

/**
 * Fastify hooks of a gateway: every request runs in its correlation context (X-Request-Id or
 * traceparent, else a new id, echoed in the `X-Request-Id` response header), so that the commands
 * it sends and the log lines it writes carry that id; and every answered request is counted per
 * route pattern, method and status with its duration, and gets its access line (logged here, not
 * by a pino-http middleware: see ObservabilityModule's `accessLog` option). Requests taken and not
 * yet answered are the in-flight gauge, which shows a stopping gateway's drain.
 */
export function installRequestObservability(fastify: FastifyInstance, metrics: ProcessMetrics, logger: PinoLogger): void {
  const logAccess = accessLogger(logger);
  // per route pattern (a bounded set), rather than a regex per request
  const countedRoutes = new Map<string, boolean>();
  const counted = (route: string | undefined): boolean => {
    if (!route) return true;
    let answer = countedRoutes.get(route);
    if (answer === undefined) countedRoutes.set(route, (answer = !UNCOUNTED.test(route)));
    return answer;
  };
  fastify.addHook('onRequest', (request, reply, done) => {
    if (counted(request.routeOptions.url)) {
      // 'close', not onResponse: it comes for a request whose client went away unanswered too
      metrics.httpRequestStarted();
      reply.raw.on('close', metrics.httpRequestEnded);
    }
    const { correlationId, traceparent } = correlationOfRequest(request.raw);
    void reply.header('x-request-id', correlationId);
    runWithCorrelation({ correlationId, traceparent, clientAddress: request.ip, route: request.routeOptions.url }, done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const elapsedMs = reply.elapsedTime;
    if (counted(route)) metrics.observeHttp(route ?? 'unmatched', request.method, reply.statusCode, elapsedMs / 1000);
    logAccess(request.raw, reply.raw, elapsedMs);
    done();
  });
}

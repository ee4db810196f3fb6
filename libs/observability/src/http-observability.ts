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
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.routeOptions.url || !UNCOUNTED.test(request.routeOptions.url)) {
      // 'close', not onResponse: it comes for a request whose client went away unanswered too
      const inFlight = metrics.httpRequestStarted();
      reply.raw.once('close', inFlight.ended);
    }
    const { correlationId, traceparent } = correlationOfRequest(request.raw);
    void reply.header('x-request-id', correlationId);
    runWithCorrelation({ correlationId, traceparent, clientAddress: request.ip, route: request.routeOptions.url }, done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    const elapsedMs = reply.elapsedTime;
    if (!route || !UNCOUNTED.test(route)) metrics.observeHttp(route ?? 'unmatched', request.method, reply.statusCode, elapsedMs / 1000);
    logAccess(request.raw, reply.raw, elapsedMs);
    done();
  });
}

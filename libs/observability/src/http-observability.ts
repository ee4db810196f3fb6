import type { FastifyInstance } from 'fastify';
import { runWithCorrelation } from './correlation';
import { correlationOfRequest } from './logger';
import type { ProcessMetrics } from './process-metrics';

/** Probes and scrapes: answered, but neither counted nor logged (they would drown the figures). */
const UNCOUNTED = /^\/(healthz|metrics)(\/|$)/;

/**
 * Fastify hooks of a gateway: every request runs in its correlation context (X-Request-Id or
 * traceparent, else a new id, echoed in the `X-Request-Id` response header), so that the commands
 * it sends and the log lines it writes carry that id; and every answered request is counted per
 * route pattern, method and status with its duration.
 */
export function installRequestObservability(fastify: FastifyInstance, metrics: ProcessMetrics): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    const { correlationId, traceparent } = correlationOfRequest(request.raw);
    void reply.header('x-request-id', correlationId);
    runWithCorrelation({ correlationId, traceparent, clientAddress: request.ip, route: request.routeOptions.url }, done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    if (!route || !UNCOUNTED.test(route)) metrics.observeHttp(route ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}

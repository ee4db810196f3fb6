import type { FastifyInstance } from 'fastify';
import { ERROR_CODE } from '@p2/contracts';
import { SENSITIVE_SOLUTION_HEADER } from '../auth/sensitive-action.guard';

/** Response headers a browser client may read (the key material size limit). */
const EXPOSED = 'X-Max-Payload-Size';
const ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', SENSITIVE_SOLUTION_HEADER].join(', ');
const ALLOWED_METHODS = 'GET, POST, PUT, DELETE, OPTIONS';

/** What every answer to a request with an Origin carries (a preflight gets more); the read cache's
 * pre-router sends them on the answers it gives without Fastify. */
export const CORS_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': EXPOSED,
  Vary: 'Origin',
};

/** CORS for browser clients of every route: bearer tokens travel in a header, never in cookies,
 * so any origin may call (`*`, no credentials). Error answers carry the headers too, so a web
 * client can read the error body. `OPTIONS /session/keymaterial` stays its own route and
 * also gets the preflight headers; every other path answers preflights here. */
export function installCors(fastify: FastifyInstance): void {
  // callback hooks, not async ones, here and in the other hooks every request runs: no promise per hook
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!request.headers.origin) return done();
    void reply.headers(CORS_ANSWER_HEADERS);
    if (request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      void reply
        .header('Access-Control-Allow-Methods', ALLOWED_METHODS)
        .header('Access-Control-Allow-Headers', ALLOWED_HEADERS)
        .header('Access-Control-Max-Age', '600');
    }
    done();
  });
  fastify.options('*', async (request, reply) => {
    if (request.headers.origin && request.headers['access-control-request-method']) return reply.status(204).send();
    return reply
      .status(404)
      .header('content-type', 'application/json; charset=utf-8')
      .send({ errcode: 404, error: ERROR_CODE.notFound, message: 'There is no such route on this server.' });
  });
}

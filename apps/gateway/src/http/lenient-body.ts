import type { FastifyInstance } from 'fastify';
import { ApiError } from './api-error';
import { ERROR_CODE } from '@p2/contracts';

/** Profile §1 leniency: polyproto-rs sends JSON without Content-Type and with bodies on GET and
 * DELETE. Every body is read as text whatever its type, then parsed as JSON when it looks like JSON;
 * anything else (raw PEM, base64) stays a string for the route to interpret. */
export function installLenientBodyParsing(fastify: FastifyInstance): void {
  fastify.addHttpMethod('GET', { hasBody: true, overrideExisting: true });
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
    const text = (body as string).trim();
    if (text === '') return done(null, undefined);
    const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const looksJson = mediaType.endsWith('json') || /^[[{"]/.test(text) || /^-?\d+$/.test(text) || text === 'null';
    if (!looksJson) return done(null, text);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new ApiError(400, ERROR_CODE.malformedRequest, 'The request body is not valid JSON.'), undefined);
    }
  });
}

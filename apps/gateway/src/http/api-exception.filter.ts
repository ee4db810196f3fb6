import { Catch, HttpException, Logger, NotFoundException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODE } from '@p2/contracts';
import { isDatabaseBusy, isDatabaseUnavailable } from '@p2/platform';
import { RateLimitedError } from '../rate-limits/rate-limited.error';
import { ApiError } from './api-error';
import { allowedMethods } from './framework-errors';

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ERROR_CODE.payloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ERROR_CODE.unsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ERROR_CODE.malformedRequest,
  FST_ERR_CTP_EMPTY_JSON_BODY: ERROR_CODE.malformedRequest,
  FST_ERR_CTP_INVALID_JSON_BODY: ERROR_CODE.malformedRequest,
};

/** Fastify's errors reach the filter wrapped in an HttpException that keeps only the status. */
const HTTP_STATUS_CODES: Record<number, string> = {
  408: ERROR_CODE.requestTimeout,
  413: ERROR_CODE.payloadTooLarge,
  414: ERROR_CODE.uriTooLong,
  415: ERROR_CODE.unsupportedMediaType,
  431: ERROR_CODE.headersTooLarge,
};

/** Every error leaves the gateway as `{errcode, error, message}` (docs/protocol.md#error-body), never with a stack
 * trace; unexpected errors are logged by type and message only and answered as a 500. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    let error = this.toApiError(exception);
    if (error.status === 404 && exception instanceof NotFoundException) {
      // the router answers a known path with an unknown method as "not found"; it is a 405
      const allowed = allowedMethods(host.switchToHttp().getRequest<FastifyRequest>());
      if (allowed.length > 0) {
        void reply.header('allow', allowed.join(', '));
        error = new ApiError(405, ERROR_CODE.methodNotAllowed, `This route answers ${allowed.join(', ')} only.`);
      }
    }
    if (error instanceof RateLimitedError) void reply.header('retry-after', String(error.retryAfterSeconds));
    void reply.status(error.status).header('content-type', 'application/json; charset=utf-8').send(error.toBody());
  }

  private toApiError(exception: unknown): ApiError {
    if (exception instanceof ApiError) return exception;
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status === 404) return new ApiError(404, ERROR_CODE.notFound, 'There is no such route on this server.');
      if (status === 405) return new ApiError(405, ERROR_CODE.methodNotAllowed, 'This method is not allowed on this route.');
      const response = exception.getResponse();
      const message = typeof response === 'object' && response && 'message' in response ? String((response as { message: unknown }).message) : exception.message;
      return new ApiError(status, status >= 500 ? ERROR_CODE.internal : (HTTP_STATUS_CODES[status] ?? ERROR_CODE.malformedRequest), message);
    }
    const fastify = exception as { code?: string; statusCode?: number; message?: string };
    if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
      return new ApiError(fastify.statusCode, FASTIFY_CODES[fastify.code ?? ''] ?? ERROR_CODE.malformedRequest, fastify.message ?? 'Bad request.');
    }
    if (isDatabaseUnavailable(exception)) {
      // no fault of the request: the same request succeeds once the database is back
      this.logger.warn(`database unavailable: ${(exception as Error)?.message ?? ''}`);
      return new ApiError(503, ERROR_CODE.unavailable, 'The database is not reachable at the moment; retry later.');
    }
    if (isDatabaseBusy(exception)) {
      // a statement cancelled while it waited (a projection rebuild holds the read models): the
      // same request goes through once the lock is released
      this.logger.warn(`database busy: ${(exception as Error)?.message ?? ''}`);
      return new ApiError(503, ERROR_CODE.unavailable, 'The database did not answer in time; retry later.');
    }
    this.logger.error(`unhandled ${(exception as Error)?.name ?? typeof exception}: ${(exception as Error)?.message ?? ''}`);
    return new ApiError(500, ERROR_CODE.internal, 'The server failed to handle this request.');
  }
}

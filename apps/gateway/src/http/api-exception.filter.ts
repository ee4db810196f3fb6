import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from './api-error';

const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: ERROR_CODE.payloadTooLarge,
  FST_ERR_CTP_INVALID_MEDIA_TYPE: ERROR_CODE.unsupportedMediaType,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ERROR_CODE.malformedRequest,
  FST_ERR_CTP_EMPTY_JSON_BODY: ERROR_CODE.malformedRequest,
  FST_ERR_CTP_INVALID_JSON_BODY: ERROR_CODE.malformedRequest,
};

/** Every error leaves the gateway as `{errcode, error, message}` (profile D12), never with a stack
 * trace; unexpected errors are logged by type and message only and answered as a 500. */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('Http');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const error = this.toApiError(exception);
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
      return new ApiError(status, status >= 500 ? ERROR_CODE.internal : ERROR_CODE.malformedRequest, message);
    }
    const fastify = exception as { code?: string; statusCode?: number; message?: string };
    if (typeof fastify?.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) {
      return new ApiError(fastify.statusCode, FASTIFY_CODES[fastify.code ?? ''] ?? ERROR_CODE.malformedRequest, fastify.message ?? 'Bad request.');
    }
    this.logger.error(`unhandled ${(exception as Error)?.name ?? typeof exception}: ${(exception as Error)?.message ?? ''}`);
    return new ApiError(500, ERROR_CODE.internal, 'The server failed to handle this request.');
  }
}

import { Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ApiExceptionFilter } from './api-exception.filter';
import { requestValidationPipe } from './request-validation';

/** Every error answer of every route in the uniform error body (docs/protocol.md#error-body), and
 * every route's request checked against its DTO class. */
@Module({
  providers: [
    { provide: APP_FILTER, useClass: ApiExceptionFilter },
    { provide: APP_PIPE, useFactory: requestValidationPipe },
  ],
})
export class HttpModule {}

import { Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { ApiExceptionFilter } from './api-exception.filter';

/** Every error answer of every route in the uniform error body (docs/protocol.md#error-body). */
@Module({ providers: [{ provide: APP_FILTER, useClass: ApiExceptionFilter }] })
export class HttpModule {}

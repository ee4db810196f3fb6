import { Controller, Get, Headers, Inject, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ERROR_CODE } from '@p2/contracts';
import { ProcessMetrics } from './process-metrics';

export const METRICS_TOKEN = Symbol('METRICS_TOKEN');

/** GET /metrics: the Prometheus text exposition of this process. With P2_METRICS_TOKEN set it
 * needs `Authorization: Bearer <token>` (a gateway's port is the public one). */
@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(
    private readonly metrics: ProcessMetrics,
    @Inject(METRICS_TOKEN) private readonly token: string | undefined,
  ) {}

  @Get('metrics')
  async scrape(@Headers('authorization') authorization: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    if (this.token !== undefined && !sameSecret(authorization?.replace(/^Bearer\s+/i, '').trim() ?? '', this.token)) {
      await reply
        .status(401)
        .header('content-type', 'application/json; charset=utf-8')
        .send({ errcode: 401, error: ERROR_CODE.unauthorized, message: 'GET /metrics needs Authorization: Bearer <P2_METRICS_TOKEN>.' });
      return;
    }
    await reply.status(200).header('content-type', this.metrics.contentType).send(await this.metrics.exposition());
  }
}

/** Compares digests, so neither the length nor the content leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

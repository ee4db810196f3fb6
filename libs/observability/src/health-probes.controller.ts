import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { ReadinessChecks } from './readiness';

/**
 * Liveness and readiness apart (GET /healthz stays as it was): `/healthz/live` answers 200 as long
 * as the process runs its event loop (restart it when not); `/healthz/ready` answers 200 only when
 * it can serve — Kafka and PostgreSQL answer and every check of its role holds (the gateway's
 * replies partition assigned, the certstore's commands group joined) — and 503 naming the failing checks otherwise (take it
 * out of the load balancer, do not restart it).
 */
@ApiExcludeController()
@Controller('healthz')
export class HealthProbesController {
  constructor(private readonly readiness: ReadinessChecks) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(@Res() reply: FastifyReply): Promise<void> {
    const checks = await this.readiness.run();
    const ok = Object.values(checks).every(Boolean);
    await reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  }
}

import { Controller, Get, Inject } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule, TypeOrmHealthIndicator } from '@nestjs/terminus';

export const healthImports = [TerminusModule.forRoot({ logger: false })];

/** Anything that can say whether Kafka answers (the gateway's command bus, the certstore's consumer). */
export interface KafkaHealth {
  check(timeoutMs?: number): Promise<boolean>;
}

export const KAFKA_HEALTH = Symbol('KAFKA_HEALTH');

@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(KAFKA_HEALTH) private readonly kafka: KafkaHealth,
  ) {}

  /** 200 only when both PostgreSQL and Kafka answer; 503 otherwise (terminus body). */
  @Get('healthz')
  @HealthCheck()
  check() {
    return this.health.check([
      () => this.db.pingCheck('postgres', { timeout: 2000 }),
      async () => {
        const session = this.indicators.check('kafka');
        return (await this.kafka.check(2000)) ? session.up() : session.down({ message: 'brokers do not answer' });
      },
    ]);
  }
}


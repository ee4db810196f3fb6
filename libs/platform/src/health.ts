import { Controller, Get, Inject, Module, Res, ServiceUnavailableException, type DynamicModule, type InjectionToken, type ModuleMetadata } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TerminusModule, TypeOrmHealthIndicator, type HealthCheckResult } from '@nestjs/terminus';
import type { FastifyReply } from 'fastify';

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

  /** 200 only when both PostgreSQL and Kafka answer; 503 otherwise, both with the terminus body
   * (docs/protocol.md#route-healthz). The answer is sent here, not thrown: an app's exception filter
   * (the gateway's makes every error the error body) would replace the body that names what is down. */
  @Get('healthz')
  @HealthCheck({ noCache: false, swaggerDocumentation: true })
  async check(@Res() reply: FastifyReply): Promise<void> {
    let status = 200;
    let body: HealthCheckResult;
    try {
      body = await this.health.check([
        () => this.db.pingCheck('postgres', { timeout: 2000 }),
        async () => {
          const session = this.indicators.check('kafka');
          return (await this.kafka.check(2000)) ? session.up() : session.down({ message: 'brokers do not answer' });
        },
      ]);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      status = 503;
      body = error.getResponse() as HealthCheckResult;
    }
    // what @HealthCheck() would set, had the framework sent the answer
    await reply.status(status).header('cache-control', 'no-cache, no-store, must-revalidate').send(body);
  }
}

/** How an app says whether its Kafka clients answer: a factory of {@link KafkaHealth} and the
 * module that provides what the factory needs. */
export interface KafkaHealthSource {
  readonly imports: NonNullable<ModuleMetadata['imports']>;
  readonly inject: InjectionToken[];
  readonly useFactory: (...deps: never[]) => KafkaHealth;
}

/** GET /healthz of an app: PostgreSQL (the app's TypeORM connection) and Kafka. */
@Module({})
export class HealthModule {
  static forKafka(kafka: KafkaHealthSource): DynamicModule {
    return {
      module: HealthModule,
      imports: [TerminusModule.forRoot({ logger: false }), ...kafka.imports],
      controllers: [HealthController],
      providers: [{ provide: KAFKA_HEALTH, inject: kafka.inject, useFactory: kafka.useFactory }],
    };
  }
}

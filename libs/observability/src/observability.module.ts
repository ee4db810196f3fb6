import { Inject, Injectable, Logger, Module, type BeforeApplicationShutdown, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { LoggerModule } from 'nestjs-pino';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { createKafka, KafkaHealthProbe, RecordPublisher, type KafkaClient } from '@p2/messaging';
import { AuditLog } from './audit-log';
import { HealthProbesController } from './health-probes.controller';
import { createRootLogger, httpLoggerOptions } from './logger';
import { METRICS_TOKEN, MetricsController } from './metrics.controller';
import { ProcessMetrics, type ProcessRole } from './process-metrics';
import { rebuildRunning } from './projection-rebuild-lock';
import { ReadinessChecks } from './readiness';
import { TelemetryService } from './telemetry.service';
import { serverVersion } from './version';

const OPS_KAFKA = Symbol('OPS_KAFKA');
/** The process's root pino logger (createRootLogger), for what logs outside Nest's Logger. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');

export interface ObservabilityOptions {
  /**
   * Who writes the access line of each HTTP request: `middleware` (default), nestjs-pino's pino-http
   * middleware; `hooks`, the app's own Fastify hooks (installRequestObservability), which a gateway
   * uses: on its request path a middleware layer and two child loggers per request cost more than
   * the line itself (docs/benchmarks.md#where-the-time-goes).
   */
  readonly accessLog?: 'middleware' | 'hooks';
}
const OPS_CONFIG = Symbol('OPS_CONFIG');

interface OpsConfig {
  readonly app: AppConfig;
  readonly role: ProcessRole;
}

/** Starts the telemetry, registers the checks every role has (Kafka, PostgreSQL) and the samples
 * every role reports (database pool; certstores: projection rebuilds), and stops it all last. */
@Injectable()
class ObservabilityLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly kafkaHealth: KafkaHealthProbe;

  constructor(
    @Inject(OPS_CONFIG) private readonly ops: OpsConfig,
    @Inject(OPS_KAFKA) kafka: KafkaClient,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly metrics: ProcessMetrics,
    private readonly readiness: ReadinessChecks,
    private readonly telemetry: TelemetryService,
    private readonly audit: AuditLog,
  ) {
    this.kafkaHealth = new KafkaHealthProbe(kafka);
  }

  onApplicationBootstrap(): void {
    this.readiness.register('kafka', () => this.kafkaHealth.check(2000));
    // bounded by the pool's connection timeout (3 s) and the statement timeout of both apps
    this.readiness.register('postgres', () => this.dataSource.query('SELECT 1').then(() => true));
    const pool = (this.dataSource.driver as PostgresDriver).master as { options?: { max?: number }; totalCount: number; idleCount: number; waitingCount: number };
    this.telemetry.addSampler(async () => {
      const database = { max: pool.options?.max ?? 0, total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
      this.metrics.setDbPool(database);
      return { database };
    });
    if (this.ops.role === 'certstore') {
      this.telemetry.addSampler(async () => {
        const rebuilding = await rebuildRunning((sql, parameters) => this.dataSource.query(sql, parameters));
        this.metrics.setRebuilding(rebuilding);
        return { rebuilding };
      });
    }
    this.telemetry.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.telemetry.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.audit.close();
    await this.kafkaHealth.close();
  }
}

/**
 * Operating one process (README, Operating): structured logs (pino through nestjs-pino), GET
 * /metrics, /healthz/live and /healthz/ready, the telemetry snapshots and the audit trail. Each app
 * imports it once; it is global so that any feature can inject ProcessMetrics, AuditLog or
 * ReadinessChecks. It has a Kafka client of its own: reporting never queues behind commands.
 */
@Module({})
export class ObservabilityModule {
  static forRoot(config: AppConfig, role: ProcessRole, options: ObservabilityOptions = {}): DynamicModule {
    const version = serverVersion();
    const logger = createRootLogger({ role, instance: config.instanceId, level: config.logLevel, format: config.observability.logFormat, file: config.observability.logFile });
    const topics = topicNames(config.kafkaTopicPrefix);
    const metrics = new ProcessMetrics(role, config.instanceId, version);
    const readiness = new ReadinessChecks();
    return {
      module: ObservabilityModule,
      global: true,
      // with `hooks`, nestjs-pino keeps Nest's Logger on the same pino logger but binds no middleware
      imports: [LoggerModule.forRoot({ pinoHttp: httpLoggerOptions(logger), ...(options.accessLog === 'hooks' ? { forRoutes: [] } : {}) })],
      controllers: [MetricsController, HealthProbesController],
      providers: [
        { provide: OPS_CONFIG, useValue: { app: config, role } satisfies OpsConfig },
        { provide: METRICS_TOKEN, useValue: config.observability.metricsToken },
        { provide: ProcessMetrics, useValue: metrics },
        { provide: ReadinessChecks, useValue: readiness },
        { provide: ROOT_LOGGER, useValue: logger },
        {
          provide: OPS_KAFKA,
          useFactory: () => createKafka({ brokers: config.kafkaBrokers, clientId: `p2-${role}-${config.instanceId}-ops`, logger: new Logger('Kafka') }),
        },
        {
          provide: TelemetryService,
          inject: [OPS_KAFKA],
          useFactory: (kafka: KafkaClient) => {
            const service: TelemetryService = new TelemetryService({
              metrics,
              readiness,
              publisher: new RecordPublisher(kafka, topics.telemetry, (error) => service.warn(`telemetry not sent: ${(error as Error)?.message}`)),
              intervalMs: config.observability.telemetryIntervalMs,
              version,
            });
            return service;
          },
        },
        {
          provide: AuditLog,
          inject: [OPS_KAFKA],
          useFactory: (kafka: KafkaClient) => {
            const log = new Logger('Audit');
            return new AuditLog(new RecordPublisher(kafka, topics.audit, (error) => log.error(`an audit entry could not be sent: ${(error as Error)?.message}`)), { instance: config.instanceId, role });
          },
        },
        ObservabilityLifecycle,
      ],
      exports: [ProcessMetrics, ReadinessChecks, TelemetryService, AuditLog, ROOT_LOGGER],
    };
  }
}

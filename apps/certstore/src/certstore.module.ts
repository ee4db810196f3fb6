import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '@p2/config';
import { KafkaHealthProbe, type KafkaClient } from '@p2/messaging';
import { ObservabilityModule } from '@p2/observability';
import { CoreModule, HealthModule, dataSourceOptions, type Clock } from '@p2/platform';
import { CommandsModule } from './messaging/commands.module';
import { KAFKA } from './messaging/kafka.provider';
import { KafkaModule } from './messaging/kafka.module';
import { CertstoreObservabilityModule } from './observability/certstore-observability.module';
import { RelayModule } from './relay/relay.module';
import { RetentionModule } from './retention/retention.module';
import { SigningModule } from './signing/signing.module';

/** Connections beside the group commits: the relay's lock and reads, cache renewal, /healthz. */
const SPARE_CONNECTIONS = 4;

/** The certstore: configuration and clock, the database, the commands microservice, signing, the
 * relay and /healthz, each a module of its own. */
@Module({})
export class CertstoreModule {
  static forRoot(config: AppConfig, clock?: Clock): DynamicModule {
    const pool = {
      max: config.commandConcurrency + SPARE_CONNECTIONS,
      connectionTimeoutMillis: 3000,
      statement_timeout: config.databaseStatementTimeoutMs,
      // Statements are prepared once per connection (PgSession) but planned for their values every
      // time: a generic plan chosen while a table was small (a sequential scan, an index used for
      // its first column only) would stay. Those marked planOnce keep a generic plan, made with
      // sequential scans off.
      options: '-c plan_cache_mode=force_custom_plan',
    };
    return {
      module: CertstoreModule,
      imports: [
        CoreModule.forRoot(config, clock),
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl, { extra: pool })),
        CommandsModule,
        SigningModule,
        RelayModule,
        RetentionModule,
        ObservabilityModule.forRoot(config, 'certstore'),
        CertstoreObservabilityModule,
        HealthModule.forKafka({ imports: [KafkaModule], inject: [KAFKA], useFactory: (kafka: KafkaClient) => new KafkaHealthProbe(kafka) }),
      ],
    };
  }
}

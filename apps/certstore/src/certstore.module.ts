import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { PostgresEventStore } from '@p2/event-store';
import { KafkaHealthProbe, type KafkaClient } from '@p2/messaging';
import { HealthController, KAFKA_HEALTH, dataSourceOptions, healthImports } from '@p2/platform';
import { AcknowledgeInboxHandler } from './application/acknowledge-inbox.handler';
import { AggregateStore } from './application/aggregate.store';
import { GroupCommit } from './application/group-commit';
import { IdentifySessionHandler } from './application/identify-session.handler';
import { IssueChallengeHandler } from './application/issue-challenge.handler';
import { KeyMaterialHandler } from './application/key-material.handler';
import { KeyPackagesHandler } from './application/key-packages.handler';
import { KeyPackagesRepository } from './application/key-packages.repository';
import { OpenSessionHandler } from './application/open-session.handler';
import { RegisterActorHandler } from './application/register-actor.handler';
import { RotateIdCertHandler } from './application/rotate-id-cert.handler';
import { RotateServerKeyHandler } from './application/rotate-server-key.handler';
import { SessionLifecycleHandler } from './application/session-lifecycle.handler';
import { APP_CONFIG } from './config/config.tokens';
import { commandTransportProvider } from './messaging/command-transport.provider';
import { CommandsController } from './messaging/commands.controller';
import { KAFKA, kafkaProvider } from './messaging/kafka.provider';
import { EventRelayService } from './relay/event-relay.service';
import { CacheSignerService } from './signing/cache-signer.service';
import { IdCertIssuer } from './signing/id-cert-issuer.service';
import { ServerKeyService } from './signing/server-key.service';

/** Connections beside the group commits: the relay's lock and reads, cache renewal, /healthz. */
const SPARE_CONNECTIONS = 4;

@Module({})
export class CertstoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    const pool = {
      max: config.commandConcurrency + SPARE_CONNECTIONS,
      connectionTimeoutMillis: 3000,
      statement_timeout: 15000,
      // Statements are prepared once per connection (PgSession) but planned for their values every
      // time: a generic plan chosen while a table was small (a sequential scan) would stay.
      options: '-c plan_cache_mode=force_custom_plan',
    };
    return {
      module: CertstoreModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl, { extra: pool })), ...healthImports],
      controllers: [HealthController, CommandsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        kafkaProvider,
        {
          provide: PostgresEventStore,
          inject: [getDataSourceToken()],
          useFactory: (dataSource: DataSource) => new PostgresEventStore(dataSource),
        },
        AggregateStore,
        GroupCommit,
        ServerKeyService,
        CacheSignerService,
        IdCertIssuer,
        RegisterActorHandler,
        OpenSessionHandler,
        SessionLifecycleHandler,
        IssueChallengeHandler,
        IdentifySessionHandler,
        RotateIdCertHandler,
        RotateServerKeyHandler,
        AcknowledgeInboxHandler,
        KeyMaterialHandler,
        KeyPackagesRepository,
        KeyPackagesHandler,
        commandTransportProvider,
        EventRelayService,
        { provide: KAFKA_HEALTH, inject: [KAFKA], useFactory: (kafka: KafkaClient) => new KafkaHealthProbe(kafka) },
      ],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { PostgresEventStore } from '@p2/event-store';
import { HealthController, KAFKA_HEALTH, dataSourceOptions, healthImports } from '@p2/platform';
import { ActorRepository } from './application/actor.repository';
import { CommandProcessor } from './application/command-processor';
import { OpenSessionHandler } from './application/open-session.handler';
import { RegisterActorHandler } from './application/register-actor.handler';
import { SessionLifecycleHandler } from './application/session-lifecycle.handler';
import { ChallengeRepository } from './application/challenge.repository';
import { IssueChallengeHandler } from './application/issue-challenge.handler';
import { IdentifySessionHandler } from './application/identify-session.handler';
import { RotateIdCertHandler } from './application/rotate-id-cert.handler';
import { RotateServerKeyHandler } from './application/rotate-server-key.handler';
import { AcknowledgeInboxHandler } from './application/acknowledge-inbox.handler';
import { KeyMaterialHandler } from './application/key-material.handler';
import { IdCertIssuer } from './signing/id-cert-issuer.service';
import { KeyPackagesRepository } from './application/key-packages.repository';
import { KeyPackagesHandler } from './application/key-packages.handler';
import { APP_CONFIG } from './config/config.tokens';
import { CommandsConsumer } from './messaging/commands.consumer';
import { kafkaProvider } from './messaging/kafka.provider';
import { EventRelayService } from './relay/event-relay.service';
import { CacheSignerService } from './signing/cache-signer.service';
import { ServerKeyService } from './signing/server-key.service';

@Module({})
export class CertstoreModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: CertstoreModule,
      imports: [TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl)), ...healthImports],
      controllers: [HealthController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        kafkaProvider,
        {
          provide: PostgresEventStore,
          inject: [getDataSourceToken()],
          useFactory: (dataSource: DataSource) => new PostgresEventStore(dataSource),
        },
        ServerKeyService,
        CacheSignerService,
        ActorRepository,
        RegisterActorHandler,
        OpenSessionHandler,
        SessionLifecycleHandler,
        ChallengeRepository,
        IssueChallengeHandler,
        IdentifySessionHandler,
        IdCertIssuer,
        RotateIdCertHandler,
        RotateServerKeyHandler,
        AcknowledgeInboxHandler,
        KeyMaterialHandler,
        KeyPackagesRepository,
        KeyPackagesHandler,
        CommandProcessor,
        CommandsConsumer,
        EventRelayService,
        { provide: KAFKA_HEALTH, inject: [CommandsConsumer], useFactory: (c: CommandsConsumer) => c.health },
      ],
    };
  }
}

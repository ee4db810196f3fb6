import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '@p2/config';
import { HealthController, KAFKA_HEALTH, dataSourceOptions, healthImports } from '@p2/platform';
import { SessionTokens } from './auth/session-token';
import { APP_CONFIG } from './config/config.tokens';
import { ApiExceptionFilter } from './http/api-exception.filter';
import { CommandSender } from './messaging/command-sender.service';
import { ReadModels } from './read-models/read-models.repository';
import { RegisterController } from './registration/register.controller';
import { ServerIdentityController } from './server/server-identity.controller';
import { SessionTrustController } from './sessions/session-trust.controller';
import { SessionsController } from './sessions/sessions.controller';
import { ActorCertsController } from './idcerts/actor-certs.controller';
import { BearerAuthGuard } from './auth/bearer-auth.guard';
import { SensitiveActionGuard } from './auth/sensitive-action.guard';
import { WellKnownController } from './well-known/well-known.controller';
import { RotateIdCertController } from './idcerts/rotate-id-cert.controller';
import { RotateServerKeyController } from './server/rotate-server-key.controller';
import { EventsController } from './events/events.controller';
import { InboxReadModel } from './events/inbox.read-model';
import { AdminGuard } from './auth/admin.guard';
import { KeyMaterialController } from './keymaterial/key-material.controller';
import { KeyMaterialReadModel } from './keymaterial/key-material.read-model';
import { ChallengeController } from './identify/challenge.controller';
import { IdentifyController } from './identify/identify.controller';
import { ExternIdCertController } from './identify/extern-id-cert.controller';
import { IdentifyReadModel } from './identify/identify.read-model';
import { PresentedIdCerts } from './identify/presented-id-cert';
import { KeyPackagesController } from './keypackages/key-packages.controller';
import { LiveEventsModule } from './live-events/live-events.module';

@Module({})
export class GatewayModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: GatewayModule,
      // global: feature modules (live-events) use the configuration, the read models and the command sender
      global: true,
      imports: [
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl, { extra: { max: 20, connectionTimeoutMillis: 3000, statement_timeout: 5000 } })),
        ...healthImports,
        LiveEventsModule,
      ],
      exports: [APP_CONFIG, ReadModels, CommandSender],
      controllers: [HealthController, WellKnownController, RegisterController, SessionTrustController, SessionsController, ServerIdentityController, ActorCertsController, RotateIdCertController, RotateServerKeyController, EventsController, KeyMaterialController, ChallengeController, IdentifyController, ExternIdCertController, KeyPackagesController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_FILTER, useClass: ApiExceptionFilter },
        { provide: SessionTokens, useValue: new SessionTokens(config.keyEncryptionKey) },
        CommandSender,
        ReadModels,
        BearerAuthGuard,
        SensitiveActionGuard,
        IdentifyReadModel,
        PresentedIdCerts,
        AdminGuard,
        InboxReadModel,
        KeyMaterialReadModel,
        { provide: KAFKA_HEALTH, inject: [CommandSender], useFactory: (c: CommandSender) => c.health },
      ],
    };
  }
}

import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '@p2/config';
import { ObservabilityModule } from '@p2/observability';
import { CoreModule, HealthModule, dataSourceOptions, type Clock } from '@p2/platform';
import { EventsModule } from './events/events.module';
import { HttpModule } from './http/http.module';
import { IdCertsModule } from './idcerts/idcerts.module';
import { IdentifyModule } from './identify/identify.module';
import { KeyMaterialModule } from './keymaterial/key-material.module';
import { KeyPackagesModule } from './keypackages/key-packages.module';
import { LiveEventsModule } from './live-events/live-events.module';
import { CommandMessagingModule } from './messaging/command-messaging.module';
import { CommandSender } from './messaging/command-sender.service';
import { GatewayObservabilityModule } from './observability/gateway-observability.module';
import { RateLimitsModule } from './rate-limits/rate-limits.module';
import { ReadCacheModule } from './read-cache/read-cache.module';
import { RegistrationModule } from './registration/registration.module';
import { ServerModule } from './server/server.module';
import { SessionsModule } from './sessions/sessions.module';
import { DiscoveryModule } from './well-known/discovery.module';

/** The gateway: configuration and clock, the database connection, error answers, /healthz, and one
 * module per feature, each importing the shared modules it uses (auth, command messaging, read models). */
@Module({})
export class GatewayModule {
  static forRoot(config: AppConfig, clock?: Clock): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        CoreModule.forRoot(config, clock),
        // application_name: pg_stat_activity shows which gateway holds a connection (and as which role)
        TypeOrmModule.forRoot(dataSourceOptions(config.databaseUrl, { extra: { max: 20, connectionTimeoutMillis: 3000, statement_timeout: config.databaseStatementTimeoutMs, application_name: `p2-gateway:${config.instanceId}` } })),
        HttpModule,
        RateLimitsModule,
        ObservabilityModule.forRoot(config, 'gateway', { accessLog: 'hooks' }),
        GatewayObservabilityModule,
        HealthModule.forKafka({ imports: [CommandMessagingModule], inject: [CommandSender], useFactory: (commands: CommandSender) => commands.health }),
        DiscoveryModule,
        RegistrationModule,
        SessionsModule,
        IdCertsModule,
        ServerModule,
        EventsModule,
        KeyMaterialModule,
        KeyPackagesModule,
        IdentifyModule,
        LiveEventsModule,
        ReadCacheModule,
      ],
    };
  }
}

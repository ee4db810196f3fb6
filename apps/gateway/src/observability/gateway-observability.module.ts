import { Module } from '@nestjs/common';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { GatewayTelemetry } from './gateway-telemetry';

/** What a gateway adds to the process's telemetry and readiness (ObservabilityModule is global). */
@Module({ imports: [CommandMessagingModule], providers: [GatewayTelemetry] })
export class GatewayObservabilityModule {}

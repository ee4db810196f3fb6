import { Module } from '@nestjs/common';
import { CommandsModule } from '../messaging/commands.module';
import { KafkaModule } from '../messaging/kafka.module';
import { RelayModule } from '../relay/relay.module';
import { CertstoreTelemetry } from './certstore-telemetry';

/** What a certstore adds to the process's telemetry and readiness (ObservabilityModule is global). */
@Module({ imports: [CommandsModule, KafkaModule, RelayModule], providers: [CertstoreTelemetry] })
export class CertstoreObservabilityModule {}

import { Module } from '@nestjs/common';
import { AggregatesModule } from '../application/aggregates.module';
import { KafkaModule } from '../messaging/kafka.module';
import { EventRelayService } from './event-relay.service';

/** The transactional outbox relay: committed events → p2.core.events.v1 (docs/architecture.md#transactional-outbox). */
@Module({ imports: [AggregatesModule, KafkaModule], providers: [EventRelayService], exports: [EventRelayService] })
export class RelayModule {}

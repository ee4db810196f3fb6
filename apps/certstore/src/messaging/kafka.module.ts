import { Module } from '@nestjs/common';
import { KAFKA, kafkaProvider } from './kafka.provider';

/** The certstore's Kafka client, shared by the command transport, the relay and /healthz. */
@Module({ providers: [kafkaProvider], exports: [KAFKA] })
export class KafkaModule {}

import type { Kafka, Producer } from 'kafkajs';
import { HEADER, type Message } from '@p2/contracts';

/** Publishes already-committed events to the events topic (used by the relay only). */
export class EventPublisher {
  private readonly producer: Producer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
  ) {
    // Idempotent with one request in flight: a retried send cannot reorder or duplicate within a run.
    this.producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: true, maxInFlightRequests: 1 });
  }

  connect(): Promise<void> {
    return this.producer.connect();
  }

  disconnect(): Promise<void> {
    return this.producer.disconnect();
  }

  async publish(messages: readonly { key: string; message: Message }[]): Promise<void> {
    if (messages.length === 0) return;
    await this.producer.send({
      topic: this.topic,
      messages: messages.map(({ key, message }) => ({
        key,
        value: JSON.stringify(message),
        headers: { [HEADER.messageType]: message.type, [HEADER.correlationId]: message.metadata.correlationId },
      })),
    });
  }
}

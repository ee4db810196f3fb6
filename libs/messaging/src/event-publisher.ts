import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { HEADER, type Message } from '@p2/contracts';

/** Publishes already-committed events to the events topic (used by the relay only). */
export class EventPublisher {
  private readonly producer: Producer;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
  ) {
    // One request in flight keeps a retried batch from overtaking the next one (per-key order);
    // duplicates after a retry are tolerated: consumers dedupe by messageId.
    this.producer = kafka.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
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

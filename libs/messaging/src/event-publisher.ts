import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import { HEADER, type Message } from '@p2/contracts';
import { chunksOf } from './record-chunks';

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

  /** In order, in requests of a bounded size (record-chunks.ts), one after the other: a relay batch
   * of large events (key material, KeyPackages) would otherwise exceed what the broker takes. */
  async publish(messages: readonly { key: string; message: Message }[]): Promise<void> {
    const records = messages.map(({ key, message }) => ({
      key,
      value: JSON.stringify(message),
      headers: { [HEADER.messageType]: message.type, [HEADER.correlationId]: message.metadata.correlationId },
    }));
    for (const chunk of chunksOf(records, (record) => record, records.length)) await this.producer.send({ topic: this.topic, messages: chunk });
  }
}

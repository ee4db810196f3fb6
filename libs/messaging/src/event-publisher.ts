import { Partitioners, type Kafka, type Message as KafkaRecord, type Producer } from 'kafkajs';
import { HEADER, PAYLOAD_OMITTED, withPayloadOmitted, type Message } from '@p2/contracts';
import { chunksOf, sendHalving, valueBytes } from './record-chunks';

/** An event published without its data (docs/architecture.md#oversized-events). */
export interface OmittedEvent {
  readonly messageId: string;
  readonly type: string;
  /** the size of the refused record's value */
  readonly bytes: number;
}

interface Outgoing {
  readonly key: string;
  readonly message: Message;
  readonly record: KafkaRecord;
}

function recordOf(key: string, message: Message, headers: Record<string, string> = {}): KafkaRecord {
  return {
    key,
    value: JSON.stringify(message),
    headers: { [HEADER.messageType]: message.type, [HEADER.correlationId]: message.metadata.correlationId, ...headers },
  };
}

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
   * of large events (key material, KeyPackages) would otherwise exceed what the broker takes.
   * A topic may take less than that bound (its `max.message.bytes`): a request it refuses as too
   * large is halved and sent again, and an event refused on its own goes out without its data
   * (`onOmitted` is told), since the broker would refuse it on every pass and nothing after it would
   * ever be published. Records a refused request did write are written again: consumers drop
   * duplicates by messageId. */
  async publish(messages: readonly { key: string; message: Message }[], onOmitted: (event: OmittedEvent) => void = () => undefined): Promise<void> {
    const outgoing = messages.map(({ key, message }) => ({ key, message, record: recordOf(key, message) }));
    for (const chunk of chunksOf(outgoing, (o) => o.record, outgoing.length)) await this.send(chunk, onOmitted);
  }

  private send(chunk: readonly Outgoing[], onOmitted: (event: OmittedEvent) => void): Promise<void> {
    return sendHalving(
      chunk,
      (part) => this.producer.send({ topic: this.topic, messages: part.map((o) => o.record) }).then(() => undefined),
      async ({ key, message, record }) => {
        const bytes = valueBytes(record);
        // refused too, the error goes up: the relay tries again on its next pass, as before
        await this.producer.send({ topic: this.topic, messages: [recordOf(key, withPayloadOmitted(message, bytes), { [HEADER.payloadOmitted]: PAYLOAD_OMITTED })] });
        onOmitted({ messageId: message.metadata.messageId, type: message.type, bytes });
      },
    );
  }
}

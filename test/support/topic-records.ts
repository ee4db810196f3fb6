import { Kafka, logLevel } from 'kafkajs';
import { TopicTail } from '@p2/messaging';
import { kafkaBrokers } from '@p2/testing';

/** Collects the JSON values of a topic (from its start) while a test runs. */
export class TopicRecords<T = unknown> {
  readonly values: T[] = [];
  readonly keys: (string | undefined)[] = [];
  /** each record's headers, as strings */
  readonly headers: Readonly<Record<string, string>>[] = [];
  private readonly tail: TopicTail;

  constructor(topic: string) {
    const kafka = new Kafka({ clientId: 'e2e-topic-records', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    this.tail = new TopicTail({
      kafka,
      topic,
      groupPrefix: 'e2e-records',
      onRecord: (record) => {
        this.keys.push(record.key);
        this.headers.push(record.headers);
        this.values.push(JSON.parse(record.value!.toString()) as T);
      },
    });
  }

  start(): Promise<void> {
    return this.tail.start();
  }

  stop(): Promise<void> {
    return this.tail.stop();
  }
}

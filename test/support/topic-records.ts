import { Kafka, logLevel } from 'kafkajs';
import { OffsetsProbe, TopicTail } from '@p2/messaging';
import { eventually, kafkaBrokers } from '@p2/testing';

/** Collects the JSON values of a topic (from its start) while a test runs. */
export class TopicRecords<T = unknown> {
  readonly values: T[] = [];
  readonly keys: (string | undefined)[] = [];
  /** each record's headers, as strings */
  readonly headers: Readonly<Record<string, string>>[] = [];
  private readonly kafka: Kafka;
  private readonly tail: TopicTail;
  /** the offset of the last record handed over, per partition */
  private readonly lastOffsets = new Map<number, number>();

  constructor(private readonly topic: string) {
    this.kafka = new Kafka({ clientId: 'e2e-topic-records', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    this.tail = new TopicTail({
      kafka: this.kafka,
      topic,
      groupPrefix: 'e2e-records',
      onRecord: (record) => {
        this.keys.push(record.key);
        this.headers.push(record.headers);
        this.values.push(JSON.parse(record.value!.toString()) as T);
        this.lastOffsets.set(record.partition, record.offset);
      },
    });
  }

  start(): Promise<void> {
    return this.tail.start();
  }

  /**
   * Resolves once every record that is on the topic now has been collected. A check that a topic
   * does not carry something means nothing before this: an empty collection passes it.
   */
  async readToEnd(timeoutMs = 30000): Promise<void> {
    const probe = new OffsetsProbe(this.kafka);
    let ends;
    try {
      ends = await probe.offsets(this.topic);
    } finally {
      await probe.close();
    }
    await eventually(() => ends.filter((p) => p.high > p.low && (this.lastOffsets.get(p.partition) ?? -1) < p.high - 1).map((p) => p.partition), {
      until: (behind) => behind.length === 0,
      timeoutMs,
      what: `partitions of ${this.topic} not read to their end offsets`,
    });
  }

  stop(): Promise<void> {
    return this.tail.stop();
  }
}

import { randomUUID } from 'node:crypto';
import type { Consumer, Kafka } from 'kafkajs';
import { OffsetsProbe } from './offsets-probe';

/** A record as TopicTail hands it over. */
export interface TailRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key?: string;
  readonly value?: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly timestamp: number;
}

export interface TopicTailOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** Records to read back per partition before the current end (default: all that are kept). */
  readonly lookback?: number;
  /** Called for every record, in order per partition. */
  readonly onRecord: (record: TailRecord) => void;
  /** Prefix of the throw-away consumer group (default `p2-tail`). */
  readonly groupPrefix?: string;
}

/**
 * Reads the last records of a topic and then follows it, for tools that look at the cluster from
 * Kafka alone (the monitor, p2ctl). It uses a consumer group of its own that never commits, so it
 * takes nothing from anyone and leaves nothing behind once it stops. `caughtUp` resolves once every
 * record that was on the topic when it started has been handed over.
 */
export class TopicTail {
  private readonly consumer: Consumer;
  private readonly probe: OffsetsProbe;
  private readonly remaining = new Map<number, number>();
  private markCaughtUp!: () => void;
  readonly caughtUp: Promise<void> = new Promise<void>((resolve) => (this.markCaughtUp = resolve));

  constructor(private readonly options: TopicTailOptions) {
    this.consumer = options.kafka.consumer({
      groupId: `${options.groupPrefix ?? 'p2-tail'}-${randomUUID()}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 200,
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
    });
    this.probe = new OffsetsProbe(options.kafka);
  }

  async start(): Promise<void> {
    const offsets = await this.probe.offsets(this.options.topic);
    await this.probe.close();
    const starts = offsets.map((p) => ({ ...p, from: this.options.lookback === undefined ? p.low : Math.max(p.low, p.high - this.options.lookback) }));
    // the last offset to reach per partition; an empty range is reached already
    for (const p of starts) if (p.high > p.from) this.remaining.set(p.partition, p.high - 1);
    if (this.remaining.size === 0) this.markCaughtUp();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        const offset = Number(message.offset);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(message.headers ?? {})) if (value !== undefined) headers[name] = value.toString();
        this.options.onRecord({
          topic,
          partition,
          offset,
          key: message.key?.toString(),
          value: message.value ?? undefined,
          headers,
          timestamp: Number(message.timestamp),
        });
        const last = this.remaining.get(partition);
        if (last !== undefined && offset >= last) {
          this.remaining.delete(partition);
          if (this.remaining.size === 0) this.markCaughtUp();
        }
      },
    });
    // kafkajs applies a seek at the partition's next fetch, so it may come right after run()
    for (const p of starts) this.consumer.seek({ topic: this.options.topic, partition: p.partition, offset: String(p.from) });
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.probe.close();
  }
}

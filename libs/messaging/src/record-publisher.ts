import { Partitioners, type Kafka, type Producer } from 'kafkajs';

/** One record for RecordPublisher: a JSON value under a key, with optional string headers. */
export interface JsonRecord {
  readonly key: string;
  readonly value: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Produces JSON records to one topic: the telemetry snapshots and audit entries. Nothing here may
 * hold up or fail the work it reports on, so a record that cannot be sent is dropped and the
 * failure handed to `onError` (the callers log it, rate-limited).
 */
export class RecordPublisher {
  private readonly producer: Producer;
  private connecting?: Promise<void>;

  constructor(
    kafka: Kafka,
    private readonly topic: string,
    private readonly onError: (error: unknown) => void = () => undefined,
  ) {
    // Few retries: a snapshot that misses its slot is replaced by the next one anyway.
    this.producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner, retry: { retries: 2 } });
  }

  /** Connects on first use; a failed connection is tried again by the next send. */
  private connect(): Promise<void> {
    this.connecting ??= this.producer.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  /** Sends `records`; resolves true once the broker acknowledged them, false when they were dropped. */
  async send(records: readonly JsonRecord[]): Promise<boolean> {
    if (records.length === 0) return true;
    try {
      await this.connect();
      await this.producer.send({
        topic: this.topic,
        messages: records.map((r) => ({ key: r.key, value: JSON.stringify(r.value), headers: { ...r.headers } })),
      });
      return true;
    } catch (error) {
      this.onError(error);
      return false;
    }
  }

  async close(): Promise<void> {
    const connecting = this.connecting;
    this.connecting = undefined;
    if (connecting) await connecting.then(() => this.producer.disconnect()).catch(() => undefined);
  }
}

import type { Message as KafkaRecord, Producer } from 'kafkajs';
import { chunksOf, sendHalving } from './record-chunks';

export interface CoalescingSenderOptions {
  /** How long a record may wait for company while a request is in flight (0: never waits). */
  readonly lingerMs: number;
  /** Most records in one produce request. Default 500. */
  readonly maxBatch?: number;
  /** What to send in place of a record the topic refuses as too large on its own (see sendHalving).
   * Without it, such a record fails its send, and the others of its request still go out. */
  readonly standIn?: StandInFor;
}

/** Makes the record sent in place of `refused`, and hears when the broker took it. */
export interface StandInFor {
  record(refused: KafkaRecord): KafkaRecord;
  sent(refused: KafkaRecord, standIn: KafkaRecord): void;
}

interface Queued {
  readonly record: KafkaRecord;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Sends records to one topic, coalescing concurrent sends into one produce request: records handed
 * over in the same turn of the event loop leave together; while a request is in flight, new
 * records wait for it to complete (or for `lingerMs`, or until `maxBatch` are waiting) and then
 * leave together. An idle sender therefore adds no delay, and a busy one makes one request of many
 * records instead of many requests of one.
 */
export class CoalescingSender {
  private queue: Queued[] = [];
  private inFlight = 0;
  private scheduled = false;
  private timer?: NodeJS.Timeout;
  private readonly maxBatch: number;

  constructor(
    private readonly producer: Producer,
    private readonly topic: string,
    private readonly options: CoalescingSenderOptions,
  ) {
    this.maxBatch = options.maxBatch ?? 500;
  }

  /** Resolves once the broker acknowledged the request that carried `record`. */
  send(record: KafkaRecord): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.schedule();
    });
  }

  /** `send` for several records at once: resolves once every one of them was acknowledged. */
  async sendAll(records: readonly KafkaRecord[]): Promise<void> {
    if (records.length === 0) return;
    const acknowledged = records.map((record) => new Promise<void>((resolve, reject) => this.queue.push({ record, resolve, reject })));
    this.schedule();
    await Promise.all(acknowledged);
  }

  private schedule(): void {
    if (this.queue.length >= this.maxBatch || this.options.lingerMs === 0) this.flush();
    else if (this.inFlight === 0) this.flushSoon();
    else this.timer ??= setTimeout(() => this.flush(), this.options.lingerMs);
  }

  private flushSoon(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const queued = this.queue;
    this.queue = [];
    for (const batch of chunksOf(queued, (q) => q.record, this.maxBatch)) {
      this.inFlight++;
      this.sendBatch(batch)
        .then(
          () => undefined,
          // the records not answered yet (a settled promise ignores this)
          (error: unknown) => batch.forEach((q) => q.reject(error)),
        )
        .finally(() => {
          this.inFlight--;
          if (this.queue.length > 0) this.flushSoon();
        });
    }
  }

  /** Each record's send settles as soon as its own request is answered. A request the topic refuses
   * as too large is halved, down to single records (sendHalving); a record refused on its own is
   * replaced by its stand-in if the options make one, else its send alone fails: the others of its
   * request go out as before. */
  private sendBatch(batch: readonly Queued[]): Promise<void> {
    return sendHalving(
      batch,
      async (part) => {
        await this.producer.send({ topic: this.topic, messages: part.map((q) => q.record) });
        part.forEach((q) => q.resolve());
      },
      async (queued, error) => {
        const standIn = this.options.standIn;
        if (!standIn) return queued.reject(error);
        const replacement = standIn.record(queued.record);
        await this.producer.send({ topic: this.topic, messages: [replacement] });
        standIn.sent(queued.record, replacement);
        queued.resolve();
      },
    );
  }
}

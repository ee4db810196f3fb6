import type { Consumer } from 'kafkajs';
import type { KafkaLogger } from './kafka.factory';

/**
 * Commits a consumer's offsets in the background, at most one OffsetCommit every `intervalMs` and
 * never on the path of a batch.
 *
 * kafkajs' auto-commit commits after every `eachBatch` call (its `autoCommitInterval` only spaces
 * commits inside `eachMessage`), and the consumer's next fetch waits for that OffsetCommit. On a
 * 2-core machine a commit took ~6 ms, and a record produced meanwhile reached the consumer ~7.7 ms
 * after it was sent instead of ~1.7 ms (docs/benchmarks.md#offset-commit): at
 * one connection, most of a command's trip from the gateway to the certstore. With this the
 * consumer runs with `autoCommit: false`.
 *
 * What is not committed when the partitions move (a rebalance, a crash, a stop) is consumed again
 * by their next owner, at most `intervalMs` of work plus a commit in flight; the certstore answers
 * those commands from their record in processed_commands (docs/architecture.md#offset-commits).
 */
export class OffsetCommitter {
  /** partition → the next offset to consume there, done and not yet committed */
  private pending = new Map<number, string>();
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;

  constructor(
    private readonly consumer: Consumer,
    private readonly topic: string,
    private readonly intervalMs: number,
    private readonly logger: KafkaLogger,
  ) {}

  /** The record at `offset` of `partition` and everything before it are done. */
  done(partition: number, offset: string): void {
    this.pending.set(partition, (BigInt(offset) + 1n).toString());
    this.timer ??= setTimeout(() => void this.commit(), this.intervalMs);
  }

  /** The partitions moved: what is not committed is their next owner's to consume again. */
  forget(): void {
    this.pending.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Commits what is done now (after a commit in flight), e.g. before the consumer stops. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    await this.commit();
  }

  private async commit(): Promise<void> {
    this.timer = undefined;
    if (this.inFlight) {
      // one OffsetCommit at a time; what came since goes with the next one
      this.timer = setTimeout(() => void this.commit(), this.intervalMs);
      return;
    }
    if (this.pending.size === 0) return;
    const offsets = [...this.pending].map(([partition, offset]) => ({ topic: this.topic, partition, offset }));
    this.pending.clear();
    this.inFlight = this.consumer.commitOffsets(offsets).then(
      () => undefined,
      (error: unknown) => {
        // tried again with the next commit, unless a later offset of the partition is done by then
        for (const { partition, offset } of offsets) if (!this.pending.has(partition)) this.pending.set(partition, offset);
        this.logger.debug?.(`committing offsets of ${this.topic} failed (${(error as Error)?.message}); trying again with the next commit`);
        this.timer ??= setTimeout(() => void this.commit(), this.intervalMs);
      },
    );
    try {
      await this.inFlight;
    } finally {
      this.inFlight = undefined;
    }
  }
}

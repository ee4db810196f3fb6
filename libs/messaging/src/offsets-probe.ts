import type { Admin, Kafka } from 'kafkajs';

/** How far a consumer is behind on one partition. */
export interface PartitionLag {
  readonly topic: string;
  readonly partition: number;
  /** the next offset the broker will write (high watermark) */
  readonly high: number;
  /** the consumer's position (its committed offset, or where it read up to) */
  readonly position: number;
  readonly lag: number;
}

/** Offsets of a partition: the oldest still kept (`low`) and the next to be written (`high`). */
export interface PartitionOffsets {
  readonly partition: number;
  readonly low: number;
  readonly high: number;
}

/**
 * Offset look-ups for lag figures and counts (telemetry, p2ctl, the monitor): one admin client,
 * connected on first use, two cheap requests per figure (ListOffsets, OffsetFetch). A failure
 * throws; callers report the figure as unknown rather than stop.
 */
export class OffsetsProbe {
  private admin?: Admin;

  constructor(private readonly kafka: Kafka) {}

  private async connected(): Promise<Admin> {
    if (this.admin) return this.admin;
    const admin = this.kafka.admin({ retry: { retries: 1 } });
    await admin.connect();
    this.admin = admin;
    return admin;
  }

  /** Runs `work` on the admin client; a failure drops the client so the next call reconnects. */
  private async withAdmin<T>(work: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await work(await this.connected());
    } catch (error) {
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Low and high offsets of every partition of `topic`. */
  offsets(topic: string): Promise<PartitionOffsets[]> {
    return this.withAdmin(async (admin) =>
      (await admin.fetchTopicOffsets(topic))
        .map((p) => ({ partition: p.partition, low: Number(p.low), high: Number(p.high) }))
        .sort((a, b) => a.partition - b.partition),
    );
  }

  /** How many records `topic` holds now (high − low over its partitions). */
  async recordCount(topic: string): Promise<number> {
    return (await this.offsets(topic)).reduce((sum, p) => sum + (p.high - p.low), 0);
  }

  /** Lag of a consumer group that commits its offsets, per partition of `topic` (or only those
   * in `partitions`). A partition without a committed offset counts from its oldest record. */
  groupLag(groupId: string, topic: string, partitions?: readonly number[]): Promise<PartitionLag[]> {
    return this.withAdmin(async (admin) => {
      const [committed, offsets] = await Promise.all([admin.fetchOffsets({ groupId, topics: [topic] }), admin.fetchTopicOffsets(topic)]);
      const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      return offsets
        .filter((p) => !partitions || partitions.includes(p.partition))
        .map((p) => {
          const high = Number(p.high);
          const stored = byPartition.get(p.partition) ?? -1;
          const position = stored >= 0 ? stored : Number(p.low);
          return { topic, partition: p.partition, high, position, lag: Math.max(0, high - position) };
        })
        .sort((a, b) => a.partition - b.partition);
    });
  }

  /** Lag of a reader that keeps its position itself (no commits): `positions` maps partition →
   * the next offset it will read. */
  async positionLag(topic: string, positions: ReadonlyMap<number, number>): Promise<PartitionLag[]> {
    const offsets = await this.offsets(topic);
    return offsets
      .filter((p) => positions.has(p.partition))
      .map((p) => {
        const position = positions.get(p.partition)!;
        return { topic, partition: p.partition, high: p.high, position, lag: Math.max(0, p.high - position) };
      });
  }

  async close(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }
}

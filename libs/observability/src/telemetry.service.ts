import { hostname } from 'node:os';
import { Logger } from '@nestjs/common';
import { HEADER } from '@p2/contracts';
import type { RecordPublisher } from '@p2/messaging';
import type { ProcessMetrics } from './process-metrics';
import type { ReadinessChecks } from './readiness';
import { buildSnapshot, type InstanceStatus, type SampledParts, type TelemetrySnapshot } from './telemetry-snapshot';

/** Samples what a role adds to its snapshot; it also updates the matching gauges. */
export type TelemetrySampler = () => Promise<SampledParts>;

export interface TelemetryServiceOptions {
  readonly metrics: ProcessMetrics;
  readonly readiness: ReadinessChecks;
  readonly publisher: RecordPublisher;
  readonly intervalMs: number;
  readonly version: string;
}

/**
 * Publishes a snapshot of this process every `intervalMs` to the telemetry topic (key: instance
 * id), and a last one with status `stopping` when it shuts down, so the monitor can tell a stopped
 * process from a silent one. Sampling (lag, pool, relay) happens here, once per interval, and
 * also refreshes the Prometheus gauges: a scrape never waits for Kafka or PostgreSQL.
 */
export class TelemetryService {
  private readonly logger = new Logger('Telemetry');
  private readonly samplers: TelemetrySampler[] = [];
  private readonly startedAt = new Date();
  private lastAt = Date.now();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastWarning = 0;
  private stopped = false;

  constructor(private readonly options: TelemetryServiceOptions) {}

  /** Adds a sampler (called by each role's wiring at start-up). */
  addSampler(sampler: TelemetrySampler): void {
    this.samplers.push(sampler);
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and publishes the last snapshot (status `stopping`). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
    await this.publish('stopping');
    await this.options.publisher.close();
  }

  private tick(): void {
    if (this.running) return; // a slow sample (a broker that does not answer) skips a beat
    this.running = this.publish().finally(() => (this.running = undefined));
  }

  /** Builds the current snapshot (and starts a new interval). */
  async snapshot(status?: InstanceStatus): Promise<TelemetrySnapshot> {
    // one after the other: the samples read the pool's figures, which the checks' queries would move
    const sampled = await this.sample();
    const checks = await this.options.readiness.run();
    const now = Date.now();
    const intervalSeconds = (now - this.lastAt) / 1000;
    this.lastAt = now;
    const { metrics } = this.options;
    const memory = process.memoryUsage();
    return buildSnapshot({
      role: metrics.role,
      instance: metrics.instance,
      version: this.options.version,
      host: hostname(),
      pid: process.pid,
      now: new Date(now),
      startedAt: this.startedAt,
      intervalSeconds,
      status: status ?? (Object.values(checks).every(Boolean) ? 'ready' : 'not-ready'),
      checks,
      interval: metrics.drainInterval(),
      sampled,
      memory,
    });
  }

  private async sample(): Promise<SampledParts> {
    const parts = await Promise.all(
      this.samplers.map((sampler) =>
        sampler().catch((error: unknown) => {
          this.warn(`a telemetry sample failed: ${(error as Error)?.message}`);
          return {};
        }),
      ),
    );
    return Object.assign({}, ...parts) as SampledParts;
  }

  private async publish(status?: InstanceStatus): Promise<void> {
    try {
      const snapshot = await this.snapshot(status);
      const sent = await this.options.publisher.send([{ key: snapshot.instance, value: snapshot, headers: { [HEADER.messageType]: 'TelemetrySnapshot' } }]);
      this.options.metrics.countSnapshot(sent);
    } catch (error) {
      this.warn(`publishing telemetry failed: ${(error as Error)?.message}`);
    }
  }

  /** At most one warning a minute: a missing broker must not flood the log. */
  warn(message: string): void {
    if (Date.now() - this.lastWarning < 60_000) return;
    this.lastWarning = Date.now();
    this.logger.warn(message);
  }
}

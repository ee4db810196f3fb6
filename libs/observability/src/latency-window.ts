/** Figures of one interval: how many observations and their percentiles. */
export interface WindowFigures {
  readonly count: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** Observations kept per interval for the percentiles: past this, a uniform sample of them. */
const RESERVOIR = 2048;

/**
 * Observations of one interval (the telemetry snapshot's), for percentiles that describe just that
 * interval. Prometheus gets cumulative histograms; a live view needs "what happened in the last few
 * seconds", which buckets summed since start cannot say. Memory stays bounded: beyond RESERVOIR
 * observations a uniform sample is kept (Vitter's algorithm R); count and max stay exact.
 */
export class LatencyWindow {
  private samples: number[] = [];
  private count = 0;
  private max = 0;

  record(value: number): void {
    this.count++;
    if (value > this.max) this.max = value;
    if (this.samples.length < RESERVOIR) this.samples.push(value);
    else {
      const slot = Math.floor(Math.random() * this.count);
      if (slot < RESERVOIR) this.samples[slot] = value;
    }
  }

  /** The interval's figures, and a fresh interval. */
  drain(): WindowFigures {
    const sorted = this.samples.sort((a, b) => a - b);
    const figures = { count: this.count, p50: percentile(sorted, 0.5), p95: percentile(sorted, 0.95), p99: percentile(sorted, 0.99), max: this.max };
    this.samples = [];
    this.count = 0;
    this.max = 0;
    return figures;
  }
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

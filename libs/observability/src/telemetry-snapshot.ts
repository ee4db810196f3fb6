import type { WindowFigures } from './latency-window';
import type { CommandCount, DbPoolFigures, IntervalFigures, LagFigure, ProcessRole } from './process-metrics';

/** Version of the snapshot schema (README, Telemetry); a change of meaning gets a new version. */
export const TELEMETRY_SCHEMA_VERSION = 1;

/** `ready`: /healthz/ready would answer 200; `not-ready`: it would not; `stopping`: the last
 * snapshot of a process that shuts down. */
export type InstanceStatus = 'ready' | 'not-ready' | 'stopping';

/** Latency percentiles of an interval, in milliseconds. */
export interface LatencyFigures {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** One snapshot of one process on `p2.core.telemetry.v1` (key: `instance`). Counts and rates
 * cover the interval since the previous snapshot (`intervalSeconds`). */
export interface TelemetrySnapshot {
  readonly schemaVersion: typeof TELEMETRY_SCHEMA_VERSION;
  readonly role: ProcessRole;
  readonly instance: string;
  readonly version: string;
  readonly host: string;
  readonly pid: number;
  readonly at: string;
  readonly startedAt: string;
  readonly uptimeSeconds: number;
  readonly intervalSeconds: number;
  readonly status: InstanceStatus;
  /** each readiness check by name (kafka, postgres, and what the role adds) */
  readonly checks: Readonly<Record<string, boolean>>;
  readonly http: {
    readonly requests: number;
    readonly requestsPerSecond: number;
    readonly status5xx: number;
    readonly routes: readonly {
      readonly route: string;
      readonly method: string;
      readonly count: number;
      readonly perSecond: number;
      readonly status4xx: number;
      readonly status5xx: number;
      readonly latencyMs: LatencyFigures;
    }[];
  };
  readonly commands: {
    readonly handled: number;
    readonly perSecond: number;
    readonly byType: readonly ({ readonly type: string; readonly latencyMs: LatencyFigures } & Readonly<Record<CommandCount, number>>)[];
    /** commands per group commit */
    readonly batchSize: { readonly batches: number; readonly p50: number; readonly p99: number; readonly max: number };
  };
  /** certstores: their commands partitions; gateways: their replies partition (null: not known) */
  readonly consumerLag: readonly LagFigure[] | null;
  /** certstores: events committed but not yet on the events topic; `active`: this one relays */
  readonly relay: { readonly active: boolean; readonly lagEvents: number | null } | null;
  readonly projections: { readonly rebuilding: boolean | null };
  readonly database: DbPoolFigures | null;
  readonly caches: readonly { readonly name: string; readonly hits: number; readonly misses: number; readonly hitRate: number | null }[];
  readonly process: { readonly rssBytes: number; readonly heapUsedBytes: number };
}

/** What a role adds to its snapshots (each part sampled once per interval). */
export interface SampledParts {
  consumerLag?: readonly LagFigure[] | null;
  relay?: TelemetrySnapshot['relay'];
  rebuilding?: boolean | null;
  database?: DbPoolFigures | null;
}

const latency = (w: WindowFigures): LatencyFigures => ({ p50: round(w.p50), p95: round(w.p95), p99: round(w.p99), max: round(w.max) });
const round = (n: number) => Math.round(n * 100) / 100;

/** Builds a snapshot from the interval's figures and the sampled parts (pure, for tests). */
export function buildSnapshot(input: {
  role: ProcessRole;
  instance: string;
  version: string;
  host: string;
  pid: number;
  now: Date;
  startedAt: Date;
  intervalSeconds: number;
  status: InstanceStatus;
  checks: Record<string, boolean>;
  interval: IntervalFigures;
  sampled: SampledParts;
  memory: { rss: number; heapUsed: number };
}): TelemetrySnapshot {
  const { interval, intervalSeconds } = input;
  const perSecond = (n: number) => round(intervalSeconds > 0 ? n / intervalSeconds : 0);
  const routes = interval.routes
    .map((r) => ({ route: r.route, method: r.method, count: r.latencyMs.count, perSecond: perSecond(r.latencyMs.count), status4xx: r.status4xx, status5xx: r.status5xx, latencyMs: latency(r.latencyMs) }))
    .sort((a, b) => b.count - a.count);
  const requests = routes.reduce((n, r) => n + r.count, 0);
  const byType = interval.commands.map((c) => ({ type: c.type, ...c.counts, latencyMs: latency(c.latencyMs) })).sort((a, b) => a.type.localeCompare(b.type));
  const handled = byType.reduce((n, c) => n + c.accepted + c.refused + c.dead_lettered, 0);
  return {
    schemaVersion: TELEMETRY_SCHEMA_VERSION,
    role: input.role,
    instance: input.instance,
    version: input.version,
    host: input.host,
    pid: input.pid,
    at: input.now.toISOString(),
    startedAt: input.startedAt.toISOString(),
    uptimeSeconds: Math.round((input.now.getTime() - input.startedAt.getTime()) / 1000),
    intervalSeconds: round(intervalSeconds),
    status: input.status,
    checks: input.checks,
    http: { requests, requestsPerSecond: perSecond(requests), status5xx: routes.reduce((n, r) => n + r.status5xx, 0), routes },
    commands: {
      handled,
      perSecond: perSecond(handled),
      byType,
      batchSize: { batches: interval.batchSizes.count, p50: interval.batchSizes.p50, p99: interval.batchSizes.p99, max: interval.batchSizes.max },
    },
    consumerLag: input.sampled.consumerLag ?? null,
    relay: input.sampled.relay ?? null,
    projections: { rebuilding: input.sampled.rebuilding ?? null },
    database: input.sampled.database ?? null,
    caches: interval.caches.map((c) => ({ ...c, hitRate: c.hits + c.misses > 0 ? round(c.hits / (c.hits + c.misses)) : null })),
    process: { rssBytes: input.memory.rss, heapUsedBytes: input.memory.heapUsed },
  };
}

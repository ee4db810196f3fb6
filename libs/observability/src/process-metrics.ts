import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { LatencyWindow, type WindowFigures } from './latency-window';

export type ProcessRole = 'gateway' | 'certstore';

/** Final outcomes of a command at the certstore, and the two counts that are not final. */
export type CommandCount = 'accepted' | 'refused' | 'dead_lettered' | 'retried' | 'duplicate';

/** A cache's hit/miss counter (`p2_cache_requests_total{cache,result}`). */
export interface CacheStats {
  hit(): void;
  miss(): void;
}

export interface DbPoolFigures {
  readonly max: number;
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

export interface LagFigure {
  readonly topic: string;
  readonly partition: number;
  readonly lag: number;
}

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64];

/** Interval figures of one HTTP route (telemetry). */
export interface RouteWindow {
  readonly route: string;
  readonly method: string;
  readonly latencyMs: WindowFigures;
  readonly status4xx: number;
  readonly status5xx: number;
}

/** Interval figures of one command type (telemetry). */
export interface CommandWindow {
  readonly type: string;
  readonly counts: Readonly<Record<CommandCount, number>>;
  readonly latencyMs: WindowFigures;
}

/** What happened since the previous drain (the telemetry snapshot's interval). */
export interface IntervalFigures {
  readonly routes: RouteWindow[];
  readonly commands: CommandWindow[];
  readonly batchSizes: WindowFigures;
  readonly caches: { readonly name: string; readonly hits: number; readonly misses: number }[];
}

interface RouteAccumulator {
  readonly latency: LatencyWindow;
  status4xx: number;
  status5xx: number;
}

const noCounts = (): Record<CommandCount, number> => ({ accepted: 0, refused: 0, dead_lettered: 0, retried: 0, duplicate: 0 });

/**
 * The figures of one process, kept twice: as Prometheus metrics (cumulative, stable names, for
 * GET /metrics) and as interval windows (what happened since the last telemetry snapshot). Every
 * figure is recorded once, through the methods here, so both views agree. One instance per app:
 * the tests run several apps in one process, each with a registry of its own.
 */
export class ProcessMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'route' | 'method' | 'status'>;
  private readonly httpDuration: Histogram<'route' | 'method'>;
  /** HTTP requests taken and not yet ended: a plain count per request, which the gauge reads at a scrape. */
  private httpInFlight = 0;
  private readonly commands: Counter<'type' | 'outcome'>;
  private readonly commandDuration: Histogram<'type'>;
  private readonly batchSize: Histogram;
  private readonly consumerLag: Gauge<'topic' | 'partition'>;
  private readonly relayLag: Gauge;
  private readonly relayOmitted: Counter<'type'>;
  private readonly commandPayloadsOmitted: Counter<'topic'>;
  private readonly rebuilding: Gauge;
  private readonly dbPool: Record<keyof DbPoolFigures, Gauge>;
  private readonly cacheRequests: Counter<'cache' | 'result'>;
  private readonly telemetryPublished: Counter<'result'>;

  private routes = new Map<string, RouteAccumulator>();
  private commandWindows = new Map<string, { counts: Record<CommandCount, number>; latency: LatencyWindow }>();
  private batches = new LatencyWindow();
  private caches = new Map<string, { hits: number; misses: number }>();

  constructor(
    readonly role: ProcessRole,
    readonly instance: string,
    version: string,
  ) {
    const registers = [this.registry];
    // a figure a role never has is left out of its exposition rather than shown as a constant 0
    const gatewayOnly = role === 'gateway' ? registers : [];
    const certstoreOnly = role === 'certstore' ? registers : [];
    this.registry.setDefaultLabels({ role });
    collectDefaultMetrics({ register: this.registry });
    new Gauge({ name: 'p2_info', help: 'Always 1: the process role, instance id and version', labelNames: ['instance_id', 'version'], registers }).set({ instance_id: instance, version }, 1);
    this.httpRequests = new Counter({ name: 'p2_http_requests_total', help: 'HTTP requests answered, by route pattern, method and status', labelNames: ['route', 'method', 'status'], registers: gatewayOnly });
    this.httpDuration = new Histogram({ name: 'p2_http_request_duration_seconds', help: 'Time to answer an HTTP request', labelNames: ['route', 'method'], buckets: SECONDS_BUCKETS, registers: gatewayOnly });
    const httpInFlight = () => this.httpInFlight;
    new Gauge({
      name: 'p2_http_requests_in_flight',
      help: 'HTTP requests taken and not yet answered (a stopping gateway answers them before it exits)',
      registers: gatewayOnly,
      collect() {
        this.set(httpInFlight());
      },
    });
    this.commands = new Counter({
      name: 'p2_commands_total',
      help: 'Commands by type and outcome: accepted, refused, dead_lettered (final); retried (a unit or command run again), duplicate (answered from processed_commands)',
      labelNames: ['type', 'outcome'],
      registers: certstoreOnly,
    });
    this.commandDuration = new Histogram({ name: 'p2_command_duration_seconds', help: 'Certstore: from taking a command batch to producing its replies', labelNames: ['type'], buckets: SECONDS_BUCKETS, registers: certstoreOnly });
    this.batchSize = new Histogram({ name: 'p2_command_batch_size', help: 'Commands per group commit (unit of work)', buckets: BATCH_BUCKETS, registers: certstoreOnly });
    this.consumerLag = new Gauge({ name: 'p2_consumer_lag', help: 'Records not yet consumed: certstores on their commands partitions, gateways on their replies partition', labelNames: ['topic', 'partition'], registers });
    this.relayLag = new Gauge({ name: 'p2_relay_lag_events', help: 'Events committed to PostgreSQL but not yet published to the events topic', registers: certstoreOnly });
    this.relayOmitted = new Counter({
      name: 'p2_relay_payloads_omitted_total',
      help: 'Events the relay published without their data, by event type: alone over what the events topic takes',
      labelNames: ['type'],
      registers: certstoreOnly,
    });
    this.commandPayloadsOmitted = new Counter({
      name: 'p2_command_payloads_omitted_total',
      help: 'Replies and dead letters the certstore sent as stand-ins without their payload, by topic (replies, dead_letters): alone over what the topic takes',
      labelNames: ['topic'],
      registers: certstoreOnly,
    });
    this.rebuilding = new Gauge({ name: 'p2_projection_rebuild_running', help: '1 while a projection rebuild holds its lock', registers: certstoreOnly });
    this.dbPool = {
      max: new Gauge({ name: 'p2_db_pool_max', help: 'PostgreSQL pool: most connections', registers }),
      total: new Gauge({ name: 'p2_db_pool_connections', help: 'PostgreSQL pool: open connections', registers }),
      idle: new Gauge({ name: 'p2_db_pool_idle', help: 'PostgreSQL pool: idle connections', registers }),
      waiting: new Gauge({ name: 'p2_db_pool_waiting', help: 'PostgreSQL pool: requests waiting for a connection', registers }),
    };
    this.cacheRequests = new Counter({ name: 'p2_cache_requests_total', help: 'Cache look-ups by cache and result (hit, miss)', labelNames: ['cache', 'result'], registers });
    this.telemetryPublished = new Counter({ name: 'p2_telemetry_snapshots_total', help: 'Telemetry snapshots published (sent) or dropped', labelNames: ['result'], registers });
  }

  /** One answered HTTP request; `route` is the route pattern (never the raw URL: bounded labels). */
  observeHttp(route: string, method: string, status: number, seconds: number): void {
    this.httpRequests.inc({ route, method, status: String(status) });
    this.httpDuration.observe({ route, method }, seconds);
    const key = `${method} ${route}`;
    let acc = this.routes.get(key);
    if (!acc) this.routes.set(key, (acc = { latency: new LatencyWindow(), status4xx: 0, status5xx: 0 }));
    acc.latency.record(seconds * 1000);
    if (status >= 500) acc.status5xx++;
    else if (status >= 400) acc.status4xx++;
  }

  /** An HTTP request taken: counted in flight until httpRequestEnded is called for it, once. */
  httpRequestStarted(): void {
    this.httpInFlight++;
  }

  /** An HTTP request taken ended, answered or aborted. Bound, so that every request's response can
   * share it as its 'close' listener (a ServerResponse emits 'close' once). */
  readonly httpRequestEnded = (): void => {
    this.httpInFlight--;
  };

  private commandWindow(type: string) {
    let window = this.commandWindows.get(type);
    if (!window) this.commandWindows.set(type, (window = { counts: noCounts(), latency: new LatencyWindow() }));
    return window;
  }

  /** A command's final outcome and how long the certstore took for it. */
  observeCommand(type: string, outcome: 'accepted' | 'refused' | 'dead_lettered', seconds: number): void {
    this.commands.inc({ type, outcome });
    this.commandDuration.observe({ type }, seconds);
    const window = this.commandWindow(type);
    window.counts[outcome]++;
    window.latency.record(seconds * 1000);
  }

  /** A count without a duration: a retry, a duplicate answered from the first outcome, or a record
   * dead-lettered unread (no envelope, so no command to time). */
  countCommand(type: string, what: 'retried' | 'duplicate' | 'dead_lettered'): void {
    this.commands.inc({ type, outcome: what });
    this.commandWindow(type).counts[what]++;
  }

  observeBatch(size: number): void {
    this.batchSize.observe(size);
    this.batches.record(size);
  }

  /** The hook of one cache (hit rates appear in telemetry and as p2_cache_requests_total). */
  cache(name: string): CacheStats {
    const count = (result: 'hit' | 'miss') => {
      this.cacheRequests.inc({ cache: name, result });
      let c = this.caches.get(name);
      if (!c) this.caches.set(name, (c = { hits: 0, misses: 0 }));
      if (result === 'hit') c.hits++;
      else c.misses++;
    };
    return { hit: () => count('hit'), miss: () => count('miss') };
  }

  setConsumerLag(lags: readonly LagFigure[]): void {
    this.consumerLag.reset();
    for (const l of lags) this.consumerLag.set({ topic: l.topic, partition: String(l.partition) }, l.lag);
  }

  setRelayLag(events: number): void {
    this.relayLag.set(events);
  }

  /** An event published without its data (the events topic refused it as too large). */
  countOmittedPayload(type: string): void {
    this.relayOmitted.inc({ type });
  }

  /** A reply or dead letter sent as a stand-in (its topic refused it as too large). */
  countOmittedCommandPayload(topic: 'replies' | 'dead_letters'): void {
    this.commandPayloadsOmitted.inc({ topic });
  }

  setRebuilding(running: boolean): void {
    this.rebuilding.set(running ? 1 : 0);
  }

  setDbPool(pool: DbPoolFigures): void {
    for (const key of Object.keys(this.dbPool) as (keyof DbPoolFigures)[]) this.dbPool[key].set(pool[key]);
  }

  countSnapshot(sent: boolean): void {
    this.telemetryPublished.inc({ result: sent ? 'sent' : 'dropped' });
  }

  /** The figures since the previous call, and a fresh interval. */
  drainInterval(): IntervalFigures {
    const routes = [...this.routes].map(([key, acc]) => {
      const [method, route] = [key.slice(0, key.indexOf(' ')), key.slice(key.indexOf(' ') + 1)];
      return { route, method, latencyMs: acc.latency.drain(), status4xx: acc.status4xx, status5xx: acc.status5xx };
    });
    const commands = [...this.commandWindows].map(([type, w]) => ({ type, counts: w.counts, latencyMs: w.latency.drain() }));
    const caches = [...this.caches].map(([name, c]) => ({ name, ...c }));
    this.routes = new Map();
    this.commandWindows = new Map();
    this.caches = new Map();
    return { routes, commands, batchSizes: this.batches.drain(), caches };
  }

  /** The Prometheus text exposition of every metric of this process. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Command-line options of `npm run bench`. Kept free of project imports: scripts/bench.mjs loads
 * this file from dist/ to refuse bad options before it starts a cluster.
 */

/** Every phase, in the order they run. Reads last: they need the actors the writes created. */
export const PHASE_NAMES = [
  'register',
  'open',
  'rotate',
  'kp-upload',
  'lr-replace',
  'kp-claim',
  'keymaterial',
  'inbox',
  'idcert-actor',
  'key-actor',
  'key-server',
  'idcert-server',
] as const;
export type PhaseName = (typeof PHASE_NAMES)[number];

export interface BenchOptions {
  readonly connections: readonly number[];
  /** seconds per cell (one phase at one connection count) */
  readonly durationSeconds: number;
  readonly phases: readonly PhaseName[];
  /** a short run for the test suite: small inputs, short ceilings */
  readonly smoke: boolean;
  /** where benchmarks.md and benchmarks.svg are written */
  readonly outputDir: string;
  /** measure each process's CPU time per operation of each cell (notes column) */
  readonly cpu: boolean;
  /** measure the ceilings (off: phases only, e.g. with --cpu while tuning) */
  readonly ceilings: boolean;
  /** the cluster the bench starts: how many gateways and certstores (each its own process) */
  readonly topology: Topology;
  /** seconds of unmeasured writes before the first cell (0: none); see WARMUP in main.ts */
  readonly warmupSeconds: number;
  /** where each cell's answers go, one line per answer (--timeline), for a look at when the slow ones came */
  readonly timelineDir?: string;
}

export interface Topology {
  readonly gateways: number;
  readonly certstores: number;
}

/** `2x2` for two gateways and two certstores; `1x1` (what `npm start` runs) is the default. */
export function topologyName({ gateways, certstores }: Topology): string {
  return `${gateways}x${certstores}`;
}

/** Where a run's report goes: benchmarks.md for the `npm start` topology, benchmarks-<GxC>.md for
 * another, so that runs of both sit side by side (same stem for the chart). */
export function reportStem(topology: Topology): string {
  return topology.gateways === 1 && topology.certstores === 1 ? 'benchmarks' : `benchmarks-${topologyName(topology)}`;
}

export class BenchOptionsError extends Error {}

export const BENCH_USAGE = `usage: npm run bench -- [options]
  --connections 1,16,64   concurrent connections per cell (each phase and each ceiling runs once per value)
  --duration 5            seconds per cell
  --phases a,b            run only these phases (default: all): ${PHASE_NAMES.join(', ')}
  --output docs           directory for benchmarks.md and benchmarks.svg
  --topology 1x1          gateways x certstores of the cluster the bench starts (each up to 4), e.g. 2x2;
                          the connections are spread over the gateways, and a topology other than 1x1
                          writes benchmarks-<GxC>.md and .svg (not with BENCH_URL)
  --cpu                   also note each cell's CPU time per answered request, per process (gateway,
                          certstore, Kafka broker, the PostgreSQL backends of the bench's database)
  --no-ceilings           skip the ceilings (phases only, no ratios; write inputs sized for 3,000/s)
  --warmup 15             seconds of last-resort replaces at 16 connections before the first cell, not
                          measured: the broker's JVM and the apps' JIT reach their steady state (0: none)
  --timeline <dir>        also write each cell's answers to <dir>/<GxC>-<phase>-<connections>.csv, one line
                          per answer in the window (ms since the cell began, latency ms, status), for
                          bench/experiments/latency-timeline.mjs
  --smoke                 a short run: every phase at 1 and 4 connections, 8 and 16 requests per cell,
                          short ceilings (the test suite runs it to keep the command working)
environment:
  BENCH_URL=<base>        drive an already running cluster (e.g. http://127.0.0.1:3000) instead of starting one;
                          the ceilings are still measured on this machine
  BENCH_DATABASE_URL      with BENCH_URL: that cluster's database (read only), for the exactly-once check of
                          every write cell; without it the write cells say "not checked"
  DATABASE_URL            the PostgreSQL server the bench creates its database on (dropped at the end)
  KAFKA_BROKERS           use this broker (topics under a prefix of their own, deleted at the end)
                          instead of starting one on free ports`;

/** A number of seconds from `min` to 600. */
function seconds(flag: string, raw: string, min: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > 600) throw new BenchOptionsError(`${flag}: "${raw}" is not a number of seconds from ${min} to 600`);
  return n;
}

/** Parses argv (without node and the script); throws BenchOptionsError with a readable message. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const smoke = argv.includes('--smoke');
  let connections: number[] = smoke ? [1, 4] : [1, 16, 64];
  let durationSeconds = smoke ? 1 : 5;
  let warmupSeconds = smoke ? 0.5 : 15;
  let phases: PhaseName[] = [...PHASE_NAMES];
  let outputDir = 'docs';
  let topology: Topology = { gateways: 1, certstores: 1 };
  let timelineDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new BenchOptionsError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--smoke':
      case '--cpu':
      case '--no-ceilings':
        break;
      case '--connections':
        connections = value()
          .split(',')
          .map((part) => {
            const n = Number(part.trim());
            if (!Number.isInteger(n) || n < 1 || n > 1024) throw new BenchOptionsError(`--connections: "${part}" is not a whole number from 1 to 1024`);
            return n;
          });
        connections = [...new Set(connections)].sort((a, b) => a - b);
        break;
      case '--duration':
        durationSeconds = seconds(flag, value(), 0.5);
        break;
      case '--warmup':
        warmupSeconds = seconds(flag, value(), 0);
        break;
      case '--phases': {
        const wanted = value()
          .split(',')
          .map((p) => p.trim())
          .filter(Boolean);
        for (const p of wanted) {
          if (!(PHASE_NAMES as readonly string[]).includes(p)) throw new BenchOptionsError(`--phases: unknown phase "${p}" (known: ${PHASE_NAMES.join(', ')})`);
        }
        phases = PHASE_NAMES.filter((p) => wanted.includes(p));
        break;
      }
      case '--output':
        outputDir = value();
        break;
      case '--timeline':
        timelineDir = value();
        break;
      case '--topology': {
        const raw = value();
        const match = /^([1-4])x([1-4])$/.exec(raw);
        if (!match) throw new BenchOptionsError(`--topology: "${raw}" is not <gateways>x<certstores>, each from 1 to 4 (e.g. 2x2)`);
        topology = { gateways: Number(match[1]), certstores: Number(match[2]) };
        break;
      }
      default:
        throw new BenchOptionsError(`unknown option "${arg}"`);
    }
  }
  return {
    connections,
    durationSeconds,
    phases,
    smoke,
    outputDir,
    cpu: argv.includes('--cpu'),
    ceilings: !argv.includes('--no-ceilings'),
    topology,
    warmupSeconds,
    ...(timelineDir === undefined ? {} : { timelineDir }),
  };
}

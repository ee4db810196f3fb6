/**
 * The bench runner: drives the cluster at BENCH_TARGET_URLS (its gateways, started by
 * scripts/bench.mjs, or the user's own through BENCH_URL), measures the ceilings on this machine,
 * runs every phase at every connection count, prints ONE table and writes docs/benchmarks.md and
 * docs/benchmarks.svg (benchmarks-<GxC>.* for another topology).
 * Run through `npm run bench`, which provisions what this needs.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_ISSUE_BENCH } from '../../libs/polyproto/bench/issue.bench';
import { BENCH_USAGE, BenchOptionsError, parseBenchOptions, reportStem, topologyName, type BenchOptions } from './bench-options';
import { Ceilings, postgresDescription, type CeilingFigure } from './ceilings/ceilings';
import { ExactlyOnceCheck } from './checks/exactly-once.check';
import { PASSWORD_SCRYPT_COST } from '../../apps/gateway/src/auth/password-hasher';
import { CpuSampler, cpuBetween, cpuPerOp, formatCpu, parsePids } from './cpu/cpu-sampler';
import { BenchApi } from './fixtures/bench-api';
import { BenchWorld } from './fixtures/bench-world';
import { LoadGenerator } from './load/load-generator';
import type { LoadResult } from './load/load-job';
import { PHASES, type Bound, type Phase } from './phases/phases';
import { markdownReport, markdownTable, formatErrors, formatMs, formatRate, type ReportRow } from './report/bench-report';
import { gitCommit, machineDescription, osDescription } from './report/machine';
import { throughputChartSvg } from './report/throughput-chart.svg';

const ROOT = resolve(__dirname, '..', '..', '..');
const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

/** The warm-up (see BenchRun.warmUp): the cheapest write, at a middle concurrency. */
const WARMUP = { phase: 'lr-replace', connections: 16, maxRate: 2000, smokeRequests: 16 } as const;

/** Inputs for the scrypt-bound and costly phases: this much more than the expected rate needs. */
const INPUT_MARGIN = 2;
/** Without ceilings (--no-ceilings), the rates inputs are sized for. */
const UNMEASURED = { writes: 3000, scrypt: 100 };

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the bench with \`npm run bench\``);
  return value;
}

interface CeilingSet {
  readonly http: Map<number, CeilingFigure>;
  /** the bare server driven the way writes are driven: the load generator's limit for the write phases */
  readonly httpWrites: Map<number, CeilingFigure>;
  readonly commits: Map<number, CeilingFigure>;
  readonly scrypt: Map<number, CeilingFigure>;
}

const BOUND_LABEL: Record<Bound, string> = { http: 'bare HTTP', commits: 'PostgreSQL commits', scrypt: 'scrypt' };

class BenchRun {
  private readonly load = new LoadGenerator();
  private readonly ceilings: Ceilings;
  private readonly rows: ReportRow[] = [];
  private readonly measured = new Map<string, number>();
  private readonly world: BenchWorld;
  private readonly ceilingSet: CeilingSet = { http: new Map(), httpWrites: new Map(), commits: new Map(), scrypt: new Map() };
  private readonly cpu: CpuSampler | undefined;
  /** undefined when the bench drives a cluster whose database it was not given (BENCH_URL without BENCH_DATABASE_URL) */
  private readonly exactlyOnce: ExactlyOnceCheck | undefined;
  /** What the warm-up did, for the report. */
  warmup: string | undefined;

  constructor(
    private readonly options: BenchOptions,
    private readonly targetUrls: readonly string[],
    private readonly pgUrl: string,
    clusterPgUrl: string | undefined,
  ) {
    this.ceilings = new Ceilings({
      load: this.load,
      pgUrl,
      ...gatewayPasswordCheck(),
      execArgv: process.execArgv,
      // a smoke run only shows that the ceilings can be measured
      durationSeconds: options.smoke ? 0.5 : options.durationSeconds,
      issueBench: options.smoke ? { roundMs: 200, rounds: 1, warmup: 200 } : DEFAULT_ISSUE_BENCH,
    });
    // the setup (actors, sessions) goes through the first gateway; the cells through all of them
    this.world = new BenchWorld(new BenchApi(targetUrls[0]!), randomBytes(3).toString('hex'), log);
    this.exactlyOnce = clusterPgUrl ? new ExactlyOnceCheck(clusterPgUrl) : undefined;
    this.cpu = options.cpu ? new CpuSampler(parsePids(process.env.BENCH_PIDS), pgUrl) : undefined;
  }

  async run(): Promise<ReportRow[]> {
    if (this.options.timelineDir !== undefined) mkdirSync(this.options.timelineDir, { recursive: true });
    if (this.options.ceilings) await this.measureCeilings();
    if (this.options.warmupSeconds > 0) await this.warmUp();
    for (const phase of PHASES.filter((p) => this.options.phases.includes(p.name))) {
      for (const connections of this.options.connections) await this.runCell(phase, connections);
    }
    return this.rows;
  }

  async close(): Promise<void> {
    this.load.close();
    await this.ceilings.close();
  }

  private async measureCeilings(): Promise<void> {
    for (const connections of this.options.connections) {
      log(`ceilings at ${connections} connections`);
      const http = await this.ceilings.bareHttp(connections, 'get');
      const httpWrites = await this.ceilings.bareHttp(connections, 'post');
      const commits = await this.ceilings.pgCommits(connections);
      const scrypt = await this.ceilings.scrypt(connections);
      this.ceilingSet.http.set(connections, http);
      this.ceilingSet.httpWrites.set(connections, httpWrites);
      this.ceilingSet.commits.set(connections, commits);
      this.ceilingSet.scrypt.set(connections, scrypt);
    }
    log('ceiling: libs/polyproto issue rate');
    const issue = await this.ceilings.issueRate();
    const rows: [string, string, Map<number, CeilingFigure>][] = [
      ['bare HTTP', 'GET / → small JSON (node:http, 1 process)', this.ceilingSet.http],
      ['bare HTTP, write-shaped', 'POST 300 B JSON + bearer, built per request', this.ceilingSet.httpWrites],
      ['PostgreSQL commits', 'pgbench: INSERT 1 row, 1 commit', this.ceilingSet.commits],
      ['scrypt', 'gateway password check (scrypt)', this.ceilingSet.scrypt],
    ];
    for (const [name, route, figures] of rows) {
      for (const [connections, figure] of figures) {
        this.rows.push({ kind: 'ceiling', name, route, connections, perSecond: figure.perSecond, p50Ms: figure.p50Ms, p99Ms: figure.p99Ms, errors: figure.errors, notes: [] });
      }
    }
    this.rows.push({
      kind: 'ceiling',
      name: 'polyproto issue',
      route: 'readIdCsr → issueActorIdCert (crypto only)',
      perSecond: issue.pipeline,
      errors: {},
      notes: [`raw node:crypto Ed25519 verify+sign: ${formatRate(issue.raw)}/s`],
    });
  }

  /** How many inputs a cell gets (see Sizing in phases.ts). */
  private async budget(phase: Phase, connections: number): Promise<number> {
    const { durationSeconds: seconds, smoke } = this.options;
    // a smoke cell sends a fixed number of requests: a few hundred for the whole run
    if (smoke) return connections * Math.max(4, Math.ceil(8 / connections));
    const slack = 2 * connections;
    switch (phase.sizing) {
      case 'scrypt':
        return Math.ceil((this.ceilingSet.scrypt.get(connections)?.perSecond ?? UNMEASURED.scrypt) * seconds * INPUT_MARGIN) + slack;
      case 'cheap':
        return Math.ceil(this.writeCeiling(connections) * seconds) + slack;
      case 'costly':
        return Math.ceil((await this.simpleWriteRate(connections)) * seconds * INPUT_MARGIN) + slack;
      case 'reads':
        return 0;
    }
  }

  /** The best write rate measured so far at this concurrency; without one, a short unreported
   * pilot of last-resort replaces. */
  private async simpleWriteRate(connections: number): Promise<number> {
    const known = PHASES.filter((p) => p.bound === 'commits')
      .map((p) => this.measured.get(`${p.name}@${connections}`))
      .filter((r) => r !== undefined);
    if (known.length > 0) return Math.max(...known);
    const pilot = PHASES.find((p) => p.name === 'lr-replace')!;
    const seconds = Math.min(1, this.options.durationSeconds);
    const budget = Math.ceil(this.writeCeiling(connections) * seconds) + 2 * connections;
    log(`pilot: ${pilot.route} at ${connections} connections for ${seconds} s, to size the inputs`);
    const result = await this.unmeasured(pilot, connections, seconds, budget);
    const rate = result.ok / result.elapsedSeconds;
    this.measured.set(`lr-replace@${connections}`, rate);
    return rate;
  }

  /**
   * Unmeasured writes before the first cell. A broker just started runs its request path in the
   * JVM's interpreter for a while, and so do V8 and PostgreSQL's caches for the apps: measured
   * cold, the first cells (one connection above all) were a third slower and cost the broker
   * three to four times its CPU per write (docs/benchmarks.md#warm-up). A cluster in service is
   * warm, so the cells measure that.
   */
  private async warmUp(): Promise<void> {
    const phase = PHASES.find((p) => p.name === WARMUP.phase)!;
    const connections = WARMUP.connections;
    const seconds = this.options.warmupSeconds;
    // inputs for the most this path has done here, with room; a warm-up that runs out just ends
    const budget = this.options.smoke ? WARMUP.smokeRequests : Math.ceil(Math.min(this.writeCeiling(connections), WARMUP.maxRate) * seconds);
    const result = await this.unmeasured(phase, connections, seconds, budget);
    this.warmup = `${result.used.toLocaleString('en-US')} \`${phase.route}\` at ${connections} connections in ${result.elapsedSeconds.toFixed(1)} s before the first cell, not measured (${formatRate(result.ok / result.elapsedSeconds)}/s answered)`;
    log(`warm-up: ${this.warmup}`);
  }

  /** Drives `phase` with `budget` fresh inputs for `seconds` (a smoke run: exactly the budget),
   * outside any cell: no CPU sample, no exactly-once check, no row. */
  private async unmeasured(phase: Phase, connections: number, seconds: number, budget: number): Promise<LoadResult> {
    const prepared = await phase.prepare({ world: this.world, connections, budget });
    const result = await this.load.run({
      urls: this.targetUrls,
      connections,
      durationSeconds: seconds,
      ...(this.options.smoke ? { amount: budget } : {}),
      requests: prepared.requests,
      list: 'once',
      okStatuses: phase.okStatuses,
      capture: false,
    });
    prepared.settle?.(result.used, result.captured);
    return result;
  }

  /** With --cpu: each process's CPU ms per second over a few seconds without load. */
  private async idleCpu(): Promise<Map<string, number> | undefined> {
    if (!this.cpu) return undefined;
    const seconds = this.options.smoke ? 0.5 : 3;
    const before = await this.cpu.sample();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    const spent = cpuBetween(before, await this.cpu.sample());
    return new Map([...spent].map(([name, ms]) => [name, ms / seconds]));
  }

  /** With --timeline: the file the load generator writes this cell's answers to. */
  private timelineFile(phase: Phase, connections: number): { timelineFile?: string } {
    const dir = this.options.timelineDir;
    if (dir === undefined) return {};
    return { timelineFile: resolve(dir, `${topologyName(this.options.topology)}-${phase.name}-${connections}.csv`) };
  }

  /** The most writes per second the ceilings allow at this concurrency (inputs are sized for it). */
  private writeCeiling(connections: number): number {
    const commits = this.ceilingSet.commits.get(connections)?.perSecond ?? UNMEASURED.writes;
    const http = this.ceilingSet.httpWrites.get(connections)?.perSecond ?? UNMEASURED.writes;
    return Math.min(commits, http);
  }

  private async runCell(phase: Phase, connections: number): Promise<void> {
    const budget = await this.budget(phase, connections);
    const prepared = await phase.prepare({ world: this.world, connections, budget });
    const idle = await this.idleCpu();
    const writes = phase.bound !== 'http';
    const exactlyOnce = writes ? this.exactlyOnce : undefined;
    const mark = await exactlyOnce?.mark();
    const cpuBefore = await this.cpu?.sample();
    // a mark for samplers outside the bench (bench/experiments/kafka-request-metrics.mjs)
    log(`${phase.name} at ${connections}: measuring`);
    const result = await this.load.run({
      urls: this.targetUrls,
      connections,
      durationSeconds: this.options.durationSeconds,
      ...(this.options.smoke ? { amount: budget } : {}),
      requests: prepared.requests,
      list: phase.sizing === 'reads' ? 'cycled' : 'once',
      okStatuses: phase.okStatuses,
      capture: phase.capture,
      ...this.timelineFile(phase, connections),
    });
    const cpuAfter = await this.cpu?.sample();
    prepared.settle?.(result.used, result.captured);
    const accepted = Object.entries(result.statuses).reduce((sum, [status, n]) => sum + (phase.okStatuses.includes(Number(status)) ? n : 0), 0);
    const once = exactlyOnce && mark ? await exactlyOnce.check(mark, accepted) : undefined;
    const perSecond = result.ok / result.elapsedSeconds;
    this.measured.set(`${phase.name}@${connections}`, perSecond);
    const ceiling = this.ceilingFor(phase.bound, connections);
    const row: ReportRow = {
      kind: 'phase',
      name: phase.name,
      route: phase.route,
      connections,
      perSecond,
      p50Ms: result.ok > 0 ? result.p50Ms : undefined,
      p99Ms: result.ok > 0 ? result.p99Ms : undefined,
      errors: { ...errorsOf(result, phase.okStatuses), ...(once?.lost ? { 'lost writes': once.lost } : {}), ...(once?.doubled ? { 'writes applied twice': once.doubled } : {}) },
      ...(ceiling ? { ceiling: { label: BOUND_LABEL[phase.bound], perSecond: ceiling.perSecond } } : {}),
      notes: [
        ...notesOf(result, prepared.requests.length, this.options.smoke),
        ...(once ? [`exactly once: ${accepted} accepted, ${once.applied} applied, ${once.lost} lost, ${once.doubled} twice`] : []),
        ...(writes && !once ? ['exactly once: not checked (BENCH_DATABASE_URL not set)'] : []),
        ...(cpuBefore && cpuAfter && idle ? [formatCpu(cpuPerOp(cpuBetween(cpuBefore, cpuAfter), result.elapsedSeconds, idle, result.ok), idle)] : []),
      ],
    };
    this.rows.push(row);
    log(
      `${phase.name} at ${connections}: ${formatRate(perSecond)} ops/s, p50 ${formatMs(row.p50Ms)} ms, p99 ${formatMs(row.p99Ms)} ms, errors ${formatErrors(row.errors)}${row.notes.length ? ` (${row.notes.join('; ')})` : ''}`,
    );
  }

  private ceilingFor(bound: Bound, connections: number): CeilingFigure | undefined {
    return this.ceilingSet[bound].get(connections);
  }
}

function errorsOf(result: LoadResult, okStatuses: readonly number[]): Record<string, number> {
  const errors: Record<string, number> = {};
  for (const [status, count] of Object.entries(result.statuses)) if (!okStatuses.includes(Number(status))) errors[status] = count;
  for (const [kind, count] of Object.entries(result.failures)) errors[kind] = (errors[kind] ?? 0) + count;
  return errors;
}

function notesOf(result: LoadResult, prepared: number, smoke: boolean): string[] {
  const notes: string[] = [];
  if (result.exhaustedAfterSeconds !== undefined) {
    notes.push(`inputs ran out after ${result.exhaustedAfterSeconds.toFixed(1)} s (${prepared.toLocaleString('en-US')} prepared)`);
  }
  if (smoke) notes.push(`${result.used} requests in ${result.elapsedSeconds.toFixed(2)} s`);
  return notes;
}

/** The hand-written analysis at the end of benchmarks.md (from its "where the time goes" anchor
 * on) outlives a re-run: the table above it is regenerated, the findings below it are not. */
const KEPT_FROM = '<a id="where-the-time-goes"></a>';

function keptSections(file: string): string {
  let old: string;
  try {
    old = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  const at = old.indexOf(KEPT_FROM);
  return at < 0 ? '' : `\n${old.slice(at)}`;
}

function commandLine(argv: readonly string[]): string {
  const args = argv.map((a) => (/^[\w,./=:@-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
  const prefix = process.env.BENCH_URL ? `BENCH_URL=${process.env.BENCH_URL} ` : '';
  return process.env.BENCH_VIA_NPM === '1' ? `${prefix}npm run bench${args ? ` -- ${args}` : ''}` : `${prefix}node scripts/bench.mjs${args ? ` ${args}` : ''}`;
}

/** How long the runner may take to close its load generator and ceilings once asked to stop. */
const STOP_GRACE_MS = 10_000;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let options: BenchOptions;
  try {
    options = parseBenchOptions(argv);
  } catch (error) {
    if (!(error instanceof BenchOptionsError)) throw error;
    process.stderr.write(`${error.message}\n${BENCH_USAGE}\n`);
    return 2;
  }
  const targetUrls = requiredEnv('BENCH_TARGET_URLS')
    .split(',')
    .map((url) => url.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  const pgUrl = requiredEnv('BENCH_PG_URL');
  const commit = gitCommit(ROOT);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const run = new BenchRun(options, targetUrls, pgUrl, process.env.BENCH_CLUSTER_PG_URL || undefined);
  // A cell's load generator or a ceiling's child may not end at once when asked: STOP_GRACE_MS
  // without an end stops the runner anyway (scripts/bench.mjs then cleans up). A further signal
  // changes nothing: Ctrl-C reaches the runner and scripts/bench.mjs, which then asks it too.
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    setTimeout(() => {
      log(`not stopped within ${STOP_GRACE_MS} ms: exiting now`);
      process.exit(130);
    }, STOP_GRACE_MS).unref();
    void run.close().finally(() => process.exit(130));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  let rows: ReportRow[];
  try {
    rows = await run.run();
  } finally {
    await run.close();
  }
  const autocannonVersion = (JSON.parse(readFileSync(require.resolve('autocannon/package.json'), 'utf8')) as { version: string }).version;
  const meta = {
    date,
    commit,
    command: commandLine(argv),
    machine: machineDescription(),
    os: osDescription(),
    node: process.version,
    postgres: `${await postgresDescription(pgUrl)}${process.env.BENCH_URL ? ' (the local server pgbench ran on; the cluster under test may use another)' : ''}`,
    kafka: process.env.BENCH_KAFKA || 'unknown',
    target: process.env.BENCH_TOPOLOGY || targetUrls.join(', '),
    loadGenerator: `autocannon ${autocannonVersion} in a process of its own, one request in flight per connection, request bodies made before each cell`,
    cell: options.smoke
      ? `smoke run: each phase at ${options.connections.join(' and ')} connections, a fixed number of requests per cell; ceilings for 0.5 s (pgbench 1 s)`
      : `${options.durationSeconds} s per phase and connection count (${options.connections.join(', ')}); ceilings the same`,
    warmup: run.warmup ?? 'none',
    passwordHashing: passwordHashingDescription(),
  };
  const outputDir = resolve(ROOT, options.outputDir);
  mkdirSync(outputDir, { recursive: true });
  const stem = reportStem(options.topology);
  const reportFile = join(outputDir, `${stem}.md`);
  writeFileSync(reportFile, markdownReport(meta, rows, `${stem}.svg`) + keptSections(reportFile));
  writeFileSync(join(outputDir, `${stem}.svg`), throughputChartSvg(rows, `polyproto home server — npm run bench, ${date.slice(0, 10)}, commit ${commit.split(' ')[0]}`));
  process.stdout.write(`\n${meta.target}; ${meta.machine}; Node ${meta.node}; PostgreSQL ${meta.postgres}; Kafka ${meta.kafka}; ${meta.date}; ${meta.commit}\n\n`);
  process.stdout.write(`${markdownTable(rows)}\n\n`);
  log(`wrote ${reportFile} and ${stem}.svg`);
  return 0;
}

/** The gateway's password check as `npm run bench` passed it on: scrypt's log2 N, libuv's pool, malloc's tunables. */
function gatewayPasswordCheck(): { scryptCost: number; threadpoolSize: string | undefined; glibcTunables: string | undefined } {
  return {
    scryptCost: Number(process.env.BENCH_GATEWAY_SCRYPT_COST || PASSWORD_SCRYPT_COST),
    threadpoolSize: process.env.BENCH_GATEWAY_THREADPOOL || undefined,
    glibcTunables: process.env.BENCH_GATEWAY_GLIBC_TUNABLES || undefined,
  };
}

/** The report's line on the password check: the session phases' ratios depend on its cost far more
 * than on anything else (docs/benchmarks.md#sixteenth-session), so the report says which it was. */
function passwordHashingDescription(): string {
  const { scryptCost: cost, threadpoolSize, glibcTunables } = gatewayPasswordCheck();
  const which = cost === PASSWORD_SCRYPT_COST ? 'the default' : `P2_PASSWORD_SCRYPT_COST=${cost}; the default is ${PASSWORD_SCRYPT_COST}`;
  const known = process.env.BENCH_URL ? '; as this environment says: the bench cannot read a running cluster’s settings' : '';
  return `scrypt at N = 2^${cost} (${which}); the gateway’s UV_THREADPOOL_SIZE ${threadpoolSize ?? '4 (libuv’s default)'}, GLIBC_TUNABLES ${glibcTunables ?? 'not set'}${known}`;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${(error as Error)?.stack ?? error}`);
    process.exit(1);
  },
);

import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import type { IssueBenchOptions, IssueRates } from '../../../libs/polyproto/bench/issue.bench';
import type { LoadGenerator } from '../load/load-generator';
import { percentile, type LoadRequest } from '../load/load-job';
import type { ScryptJob, ScryptResult } from './scrypt-rate.child';

/** One measured ceiling at one concurrency. */
export interface CeilingFigure {
  readonly perSecond: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** failed operations by kind (they are not counted in perSecond) */
  readonly errors: Readonly<Record<string, number>>;
}

export interface CeilingOptions {
  readonly load: LoadGenerator;
  /** database the pgbench scratch table lives in */
  readonly pgUrl: string;
  /** the gateway's UV_THREADPOOL_SIZE (Node's default 4 when unset) */
  readonly threadpoolSize: string | undefined;
  /** the gateway's P2_PASSWORD_SCRYPT_COST (its default when unset) */
  readonly scryptCost: number;
  /** the gateway's GLIBC_TUNABLES (its malloc takes huge pages for scrypt's memory) */
  readonly glibcTunables: string | undefined;
  /** node options that resolve the @p2/* aliases against dist/ */
  readonly execArgv: readonly string[];
  readonly durationSeconds: number;
  readonly issueBench: IssueBenchOptions;
}

const PGBENCH = process.env.PGBENCH ?? 'pgbench';
const SCRATCH_TABLE = 'bench_commit_ceiling';

/**
 * The four reference rates of a bench run, measured on this machine in the same run as the phases:
 * what the load generator can drive at all (a bare HTTP server), PostgreSQL single-row commits
 * (pgbench), the gateway's scrypt password check, and libs/polyproto's crypto-only issue rate.
 */
export class Ceilings {
  private bareServer: { child: ChildProcess; port: number } | undefined;
  private scratchReady = false;

  constructor(private readonly options: CeilingOptions) {}

  /**
   * (1) a bare Node HTTP server answering a small JSON body, driven by the bench's load generator
   * the way it drives the reads (`get`: one GET, built once), or the way it drives the writes
   * (`post`: a POST with a KeyPackage-sized JSON body and a bearer token, each request built when
   * its turn comes, as a write's pre-generated entry is).
   */
  async bareHttp(connections: number, shape: 'get' | 'post'): Promise<CeilingFigure> {
    const { port } = await this.startBareServer();
    const requests: LoadRequest[] =
      shape === 'get'
        ? [{ method: 'GET', path: '/' }]
        : Array.from({ length: 1024 }, (_, i) => ({
            method: 'POST',
            path: '/.p2/core/v1/keypackage/@me',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${randomBytes(32).toString('base64url')}` },
            body: JSON.stringify([{ n: i, init_key: randomBytes(32).toString('base64'), leaf_node: randomBytes(96).toString('base64') }]),
          }));
    const result = await this.options.load.run({
      urls: [`http://127.0.0.1:${port}`],
      connections,
      durationSeconds: this.options.durationSeconds,
      requests,
      list: shape === 'get' ? 'cycled' : 'cycled-per-request',
      okStatuses: [200],
      capture: false,
    });
    const errors: Record<string, number> = { ...result.failures };
    for (const [status, count] of Object.entries(result.statuses)) if (status !== '200') errors[status] = count;
    return { perSecond: result.ok / result.elapsedSeconds, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors };
  }

  /** (2) PostgreSQL single-row commits: pgbench inserting one row per transaction into a scratch table. */
  async pgCommits(connections: number): Promise<CeilingFigure> {
    await this.ensureScratchTable();
    const dir = mkdtempSync(join(tmpdir(), 'p2-pgbench-'));
    try {
      const script = join(dir, 'insert.sql');
      writeFileSync(script, `\\set v random(1, 1000000000)\nINSERT INTO ${SCRATCH_TABLE} (client, value) VALUES (:client_id, :v);\n`);
      const seconds = Math.max(1, Math.round(this.options.durationSeconds));
      const args = ['-n', '-f', script, '-c', String(connections), '-j', String(Math.min(2, connections)), '-T', String(seconds), '-l', `--log-prefix=${join(dir, 'tx')}`, this.options.pgUrl];
      const output = await run(PGBENCH, args, dir);
      const tps = /tps = ([0-9.]+) \(without initial connection time\)/.exec(output);
      if (!tps) throw new Error(`pgbench printed no rate:\n${output}`);
      const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0);
      // per-transaction log lines: client, transaction, latency (µs), script, epoch s, µs
      const latencies: number[] = [];
      for (const file of readdirSync(dir).filter((f) => f.startsWith('tx.'))) {
        for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
          const latency = Number(line.split(' ')[2]);
          if (line && Number.isFinite(latency)) latencies.push(latency / 1000);
        }
      }
      latencies.sort((a, b) => a - b);
      return { perSecond: Number(tps[1]), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), errors: failed ? { failed } : {} };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  /** (3) the gateway's scrypt password check, `connections` checks in flight, with the gateway's thread pool and malloc tunables. */
  async scrypt(connections: number): Promise<CeilingFigure> {
    const env = { ...process.env };
    if (this.options.threadpoolSize === undefined) delete env.UV_THREADPOOL_SIZE;
    else env.UV_THREADPOOL_SIZE = this.options.threadpoolSize;
    if (this.options.glibcTunables === undefined) delete env.GLIBC_TUNABLES;
    else env.GLIBC_TUNABLES = this.options.glibcTunables;
    const result = await callChild<ScryptJob, ScryptResult>('scrypt-rate.child.js', { concurrency: connections, durationSeconds: this.options.durationSeconds, cost: this.options.scryptCost }, { env, execArgv: [] });
    return { perSecond: result.perSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, errors: result.failures ? { failed: result.failures } : {} };
  }

  /** (4) libs/polyproto's issue pipeline (CSR in → checks → signed cert out) on one core, and the raw crypto under it. */
  async issueRate(): Promise<IssueRates> {
    return callChild<IssueBenchOptions, IssueRates>('issue-rate.child.js', this.options.issueBench, { env: process.env, execArgv: [...this.options.execArgv] });
  }

  async close(): Promise<void> {
    this.bareServer?.child.kill();
    this.bareServer = undefined;
    if (this.scratchReady) {
      await withClient(this.options.pgUrl, (client) => client.query(`DROP TABLE IF EXISTS ${SCRATCH_TABLE}`)).catch(() => undefined);
    }
  }

  private async ensureScratchTable(): Promise<void> {
    if (this.scratchReady) return;
    await withClient(this.options.pgUrl, (client) =>
      client.query(`CREATE TABLE IF NOT EXISTS ${SCRATCH_TABLE} (id bigserial PRIMARY KEY, client integer NOT NULL, value bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())`),
    );
    this.scratchReady = true;
  }

  private async startBareServer(): Promise<{ child: ChildProcess; port: number }> {
    if (this.bareServer) return this.bareServer;
    const child = fork(join(__dirname, 'bare-http.server.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
    const port = await new Promise<number>((resolve, reject) => {
      child.once('message', (message: { port: number }) => resolve(message.port));
      child.once('exit', (code) => reject(new Error(`the bare HTTP server exited (${code})`)));
    });
    this.bareServer = { child, port };
    return this.bareServer;
  }
}

/** PostgreSQL as the report names it: its version (e.g. "15.20") and the GLIBC_TUNABLES its
 * postmaster runs with, when the server is on this machine and its environment is readable. Its
 * backends' malloc settings change what a write costs there (docs/benchmarks.md#postgres-malloc),
 * so the report says which ones the figures had. One connection for both. */
export function postgresDescription(pgUrl: string): Promise<string> {
  return withClient(pgUrl, async (client) => {
    const { v, pid } = (await client.query<{ v: string; pid: number }>(`SELECT current_setting('server_version') AS v, pg_backend_pid() AS pid`)).rows[0]!;
    return `${v.split(' ')[0]!}, ${mallocTunablesOfBackend(pid, client)}`;
  });
}

function mallocTunablesOfBackend(backend: number, client: Client): string {
  // the pid is this machine's only if that process is the backend of this very connection: its
  // title names our end's port (a server in a container has pids of its own)
  const localPort = (client as unknown as { connection: { stream: { localPort?: number } } }).connection.stream.localPort;
  try {
    if (localPort === undefined || !readFileSync(`/proc/${backend}/cmdline`, 'latin1').includes(`(${localPort})`)) throw new Error('not ours');
    const postmaster = /^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${backend}/status`, 'utf8'))?.[1];
    const tunables = glibcTunablesOf(readFileSync(`/proc/${postmaster}/environ`, 'latin1'));
    return tunables === undefined ? 'GLIBC_TUNABLES not set' : `GLIBC_TUNABLES=${tunables}`;
  } catch {
    return 'its GLIBC_TUNABLES not known (another machine, or not readable)';
  }
}

/** GLIBC_TUNABLES out of a /proc/<pid>/environ. glibc splits the value in place at each ':' when
 * it parses it, so in a running process's environ the later tunables follow as entries of their own. */
export function glibcTunablesOf(environ: string): string | undefined {
  const entries = environ.split('\0');
  const at = entries.findIndex((entry) => entry.startsWith('GLIBC_TUNABLES='));
  if (at < 0) return undefined;
  const parts = [entries[at]!.slice('GLIBC_TUNABLES='.length)];
  for (const entry of entries.slice(at + 1)) {
    if (!/^glibc\.[a-z_]+\.[a-z_]+=/.test(entry)) break;
    parts.push(entry);
  }
  return parts.filter((part) => part !== '').join(':');
}

/** One connection of its own for `fn`, closed after it (the bench's few queries outside the load). */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs `job` in a child process of its own and returns its result. The child says it is ready
 * before the job is sent: a job sent at once, while the child was still loading, was once never
 * answered (the bench waited 15 minutes on an idle child). A child that takes longer than
 * CHILD_DEADLINE_MS fails the measurement instead of holding the bench. */
function callChild<Job, Result>(file: string, job: Job, options: { env: NodeJS.ProcessEnv; execArgv: string[] }): Promise<Result> {
  const child = fork(join(__dirname, file), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: options.env, execArgv: options.execArgv });
  let deadline: NodeJS.Timeout | undefined;
  return new Promise<Result>((resolve, reject) => {
    deadline = setTimeout(() => reject(new Error(`${file} gave no result within ${CHILD_DEADLINE_MS / 1000} s`)), CHILD_DEADLINE_MS);
    child.once('exit', (code, signal) => reject(new Error(`${file} exited (${signal ?? code})`)));
    child.on('message', (message: { ready?: true; result?: Result; error?: string }) => {
      if (message.ready) child.send(job as object);
      else if (message.error !== undefined) reject(new Error(`${file}: ${message.error}`));
      else resolve(message.result!);
    });
  }).finally(() => {
    clearTimeout(deadline);
    child.kill();
  });
}

/** Longer than any ceiling's child runs (a scrypt cell at the real cost: ~a minute). */
const CHILD_DEADLINE_MS = 10 * 60 * 1000;

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} exited with ${code}:\n${output}`))));
  });
}

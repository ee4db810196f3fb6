/**
 * CPU time per operation, per process of the system under test (`npm run bench -- --cpu`). On a
 * machine shared with other work, ops/s says little; the CPU each process spends per write does
 * not depend on what else runs. Reads utime + stime of /proc/<pid>/stat (whole process, every
 * thread) before and after a cell, for the gateway, the certstore and the broker (their pids come
 * from scripts/bench.mjs in BENCH_PIDS) and for every PostgreSQL backend connected to the bench's
 * database (PostgreSQL's shared background processes, WAL writer and checkpointer, serve every
 * database of the server and are left out).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Client } from 'pg';

/** name → CPU milliseconds (user + system) */
export type CpuTimes = Map<string, number>;

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** CPU ms of one process so far; undefined once it is gone (or on a system without /proc). */
export function processCpuMs(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // the command name (field 2) may hold spaces: fields are counted after its closing parenthesis
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / clockTicks();
}

/** Parses BENCH_PIDS (`gateway:123,certstore:456,kafka:789`). */
export function parsePids(spec: string | undefined): Map<string, number> {
  const pids = new Map<string, number>();
  for (const part of (spec ?? '').split(',')) {
    const [name, pid] = part.split(':');
    if (name && Number.isInteger(Number(pid)) && Number(pid) > 0) pids.set(name, Number(pid));
  }
  return pids;
}

export class CpuSampler {
  constructor(
    private readonly pids: ReadonlyMap<string, number>,
    private readonly pgUrl: string,
  ) {}

  /** The processes' CPU so far; `postgres` is the sum over the backends of the bench's database. */
  async sample(): Promise<CpuTimes> {
    const times: CpuTimes = new Map();
    for (const [name, pid] of this.pids) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) times.set(name, ms);
    }
    const backends = await this.backends();
    times.set('postgres', 0);
    for (const pid of backends) {
      const ms = processCpuMs(pid);
      if (ms !== undefined) times.set(`postgres:${pid}`, ms);
    }
    return times;
  }

  private async backends(): Promise<number[]> {
    const client = new Client({ connectionString: this.pgUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
      return rows.map((r) => r.pid);
    } finally {
      await client.end();
    }
  }
}

/** CPU ms of each process between two samples; PostgreSQL backends summed (a backend that
 * appeared in between counts from zero: a pool opened it meanwhile). */
export function cpuBetween(before: CpuTimes, after: CpuTimes): Map<string, number> {
  const per = new Map<string, number>();
  for (const [key, ms] of after) {
    const name = key.startsWith('postgres:') ? 'postgres' : key;
    per.set(name, (per.get(name) ?? 0) + (key === 'postgres' ? 0 : ms - (before.get(key) ?? 0)));
  }
  return per;
}

/**
 * CPU ms per operation of each process during a cell, less what the process spends idle (its
 * consumers' fetch loops, heartbeats, telemetry): `idle` is CPU ms per second of each process
 * measured just before the cell with no load. On a machine that other work slows down, the cell
 * lasts longer and the idle share would otherwise be counted as the writes' cost.
 */
export function cpuPerOp(cell: Map<string, number>, cellSeconds: number, idle: Map<string, number>, ops: number): { name: string; msPerOp: number }[] {
  if (ops <= 0) return [];
  return [...cell].map(([name, ms]) => ({ name, msPerOp: Math.max(0, ms - (idle.get(name) ?? 0) * cellSeconds) / ops }));
}

export function formatCpu(figures: readonly { name: string; msPerOp: number }[], idle: Map<string, number>): string {
  if (figures.length === 0) return '';
  const total = figures.reduce((sum, f) => sum + f.msPerOp, 0);
  const idleText = [...idle].map(([name, ms]) => `${name} ${Math.round(ms)}`).join(', ');
  return `CPU ms/op net of idle: ${figures.map((f) => `${f.name} ${f.msPerOp.toFixed(2)}`).join(', ')}; total ${total.toFixed(2)} (idle ms/s: ${idleText})`;
}

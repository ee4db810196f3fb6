import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaBrokers } from '@p2/testing';
import { PHASE_NAMES } from '../bench/src/bench-options';
import { TestCluster } from './support/cluster';

const ROOT = resolve(__dirname, '..');

/** `npm run bench -- --smoke`: the whole bench, end to end, on a cluster started the way the bench
 * starts it (separate processes, on the suite's Kafka and PostgreSQL). Checks that it runs, that its
 * table has every phase and ceiling without errors, and that it leaves nothing behind. Figures are
 * never asserted. */
describe('npm run bench (smoke run)', () => {
  const output = mkdtempSync(join(tmpdir(), 'p2-bench-smoke-'));
  let exitCode: number | null;
  let stdout = '';
  let stderr = '';

  beforeAll(async () => {
    ({ exitCode, stdout, stderr } = await runBench(['--smoke', '--output', output], {}, 450_000));
  }, 480_000);

  afterAll(() => rmSync(output, { recursive: true, force: true }));

  it('exits 0 and writes benchmarks.md and benchmarks.svg', () => {
    expect({ exitCode, stderr: exitCode === 0 ? '' : stderr.slice(-3000) }).toEqual({ exitCode: 0, stderr: '' });
    expect(existsSync(join(output, 'benchmarks.md'))).toBe(true);
    expect(readFileSync(join(output, 'benchmarks.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
  });

  it('warms the cluster up before the first cell and says so in the report', () => {
    const report = readFileSync(join(output, 'benchmarks.md'), 'utf8');
    expect(report).toMatch(/^\| warm-up \| 16 `PUT \/keypackage_lr` at 16 connections in [0-9.]+ s before the first cell, not measured \([0-9.,]+\/s answered\) \|$/m);
    expect(stderr).toMatch(/\[bench\] warm-up: 16 `PUT \/keypackage_lr`/);
  });

  it('says which password check the session phases were bound by: its cost, thread pool and malloc tunables', () => {
    const report = readFileSync(join(output, 'benchmarks.md'), 'utf8');
    expect(report).toMatch(/^\| password check \| scrypt at N = 2\^(\d+) \((the default|P2_PASSWORD_SCRYPT_COST=\1; the default is \d+)\); the gateway’s UV_THREADPOOL_SIZE [^;|]+, GLIBC_TUNABLES [^;|]+ \|$/m);
  });

  it('has every phase at 1 and 4 connections, each with completed operations, a ratio and no errors', () => {
    const table = rows(readFileSync(join(output, 'benchmarks.md'), 'utf8'));
    const phases = table.filter((r) => !r.phase.startsWith('**ceiling'));
    expect(phases.map((r) => `${r.phase}@${r.conns}`)).toEqual(PHASE_NAMES.flatMap((p) => [`${p}@1`, `${p}@4`]));
    for (const row of phases) {
      expect({ row: `${row.phase}@${row.conns}`, errors: row.errors }).toEqual({ row: `${row.phase}@${row.conns}`, errors: '0' });
      expect(row.opsPerSecond).toBeGreaterThan(0);
      expect(row.ratio).toMatch(/^[0-9.e+-]+$/);
    }
  });

  it('checks every write cell for exactly once: each accepted answer an applied command, none applied twice', () => {
    const writes = rows(readFileSync(join(output, 'benchmarks.md'), 'utf8')).filter((r) => !r.phase.startsWith('**ceiling') && !/-(actor|server)$/.test(r.phase));
    expect(writes).toHaveLength(16);
    expectExactlyOnce(writes);
  });

  it('has every ceiling, measured, without errors', () => {
    const ceilings = rows(readFileSync(join(output, 'benchmarks.md'), 'utf8')).filter((r) => r.phase.startsWith('**ceiling'));
    expect(ceilings.map((r) => `${r.phase}@${r.conns}`)).toEqual([
      '**ceiling: bare HTTP**@1',
      '**ceiling: bare HTTP**@4',
      '**ceiling: bare HTTP, write-shaped**@1',
      '**ceiling: bare HTTP, write-shaped**@4',
      '**ceiling: PostgreSQL commits**@1',
      '**ceiling: PostgreSQL commits**@4',
      '**ceiling: scrypt**@1',
      '**ceiling: scrypt**@4',
      '**ceiling: polyproto issue**@1 core',
    ]);
    for (const row of ceilings) {
      expect(row.errors).toBe('0');
      expect(row.opsPerSecond).toBeGreaterThan(0);
    }
  });

  it('prints the same table', () => {
    const printed = rows(stdout);
    expect(printed.length).toBe(PHASE_NAMES.length * 2 + 9);
  });

  it('drops its database and deletes its topics', async () => {
    const database = /database (p2_bench_[0-9a-f]+)/.exec(stderr)?.[1];
    expect(database).toBeDefined();
    const client = new Client({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await client.connect();
    try {
      expect((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])).rowCount).toBe(0);
    } finally {
      await client.end();
    }
    const admin = new Kafka({ clientId: 'p2-tests', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const runId = database!.slice('p2_bench_'.length);
      expect((await admin.listTopics()).filter((topic) => topic.startsWith(`bench-${runId}.`))).toEqual([]);
    } finally {
      await admin.disconnect();
    }
  });
});

/** Two gateways and two certstores (`--topology 2x2`), a few phases: the load is spread over both
 * gateways, the commands over both certstores' partitions, and every write is still applied once. */
describe('npm run bench --topology 2x2 (smoke run)', () => {
  const output = mkdtempSync(join(tmpdir(), 'p2-bench-smoke-2x2-'));
  let run: { exitCode: number | null; stdout: string; stderr: string };

  beforeAll(async () => {
    run = await runBench(['--smoke', '--no-ceilings', '--topology', '2x2', '--phases', 'kp-upload,keymaterial,key-server', '--output', output], {}, 270_000);
  }, 300_000);

  afterAll(() => rmSync(output, { recursive: true, force: true }));

  it('starts two of each and writes its own report, benchmarks-2x2.md', () => {
    expect({ exitCode: run.exitCode, stderr: run.exitCode === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ exitCode: 0, stderr: '' });
    expect(run.stderr).toMatch(/starting a cluster: database p2_bench_[0-9a-f]+, 2 gateways on \d+, \d+, 2 certstores/);
    expect(existsSync(join(output, 'benchmarks.md'))).toBe(false);
    expect(readFileSync(join(output, 'benchmarks-2x2.md'), 'utf8')).toMatch(/2 gateways \+ 2 certstores/);
  });

  it('answers every request of every cell, each accepted write applied exactly once', () => {
    const table = rows(readFileSync(join(output, 'benchmarks-2x2.md'), 'utf8'));
    expect(table.map((r) => `${r.phase}@${r.conns}`)).toEqual(['kp-upload@1', 'kp-upload@4', 'keymaterial@1', 'keymaterial@4', 'key-server@1', 'key-server@4']);
    for (const row of table) expect({ row: `${row.phase}@${row.conns}`, errors: row.errors }).toEqual({ row: `${row.phase}@${row.conns}`, errors: '0' });
    expectExactlyOnce(table.filter((r) => r.phase !== 'key-server'));
  });
});

/** `BENCH_URL`: a cluster the bench did not start (here one of the suite's, in this process). The
 * write cells are checked for exactly once in that cluster's database when BENCH_DATABASE_URL names
 * it, and say that they were not checked otherwise. */
describe('BENCH_URL=… npm run bench (smoke run against a running cluster)', () => {
  const output = mkdtempSync(join(tmpdir(), 'p2-bench-smoke-url-'));
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'bench_url' });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    rmSync(output, { recursive: true, force: true });
  });

  it('checks each write in the database BENCH_DATABASE_URL names', async () => {
    const run = await runBench(['--smoke', '--no-ceilings', '--phases', 'kp-upload,keymaterial,key-server', '--output', output], {
      BENCH_URL: cluster.gatewayUrls[0]!,
      BENCH_DATABASE_URL: cluster.databaseUrl,
    }, 270_000);
    expect({ exitCode: run.exitCode, stderr: run.exitCode === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ exitCode: 0, stderr: '' });
    const table = rows(readFileSync(join(output, 'benchmarks.md'), 'utf8'));
    expect(table.map((r) => `${r.phase}@${r.conns}`)).toEqual(['kp-upload@1', 'kp-upload@4', 'keymaterial@1', 'keymaterial@4', 'key-server@1', 'key-server@4']);
    for (const row of table) expect({ row: `${row.phase}@${row.conns}`, errors: row.errors }).toEqual({ row: `${row.phase}@${row.conns}`, errors: '0' });
    expectExactlyOnce(table.filter((r) => r.phase !== 'key-server'));
    // the cluster's own password settings are not the bench's to read
    expect(readFileSync(join(output, 'benchmarks.md'), 'utf8')).toMatch(/^\| password check \| scrypt at N = 2\^\d+ [^|]*; as this environment says: the bench cannot read a running cluster’s settings \|$/m);
  }, 300_000);

  it('says "not checked" for each write cell without BENCH_DATABASE_URL', async () => {
    const run = await runBench(['--smoke', '--no-ceilings', '--phases', 'kp-upload', '--output', output], { BENCH_URL: cluster.gatewayUrls[0]!, BENCH_DATABASE_URL: '' }, 270_000);
    expect({ exitCode: run.exitCode, stderr: run.exitCode === 0 ? '' : run.stderr.slice(-3000) }).toEqual({ exitCode: 0, stderr: '' });
    const table = rows(readFileSync(join(output, 'benchmarks.md'), 'utf8'));
    expect(table.map((r) => `${r.phase}@${r.conns}: ${r.errors}, ${/exactly once: [^;]*/.exec(r.notes)?.[0]}`)).toEqual([
      'kp-upload@1: 0, exactly once: not checked (BENCH_DATABASE_URL not set)',
      'kp-upload@4: 0, exactly once: not checked (BENCH_DATABASE_URL not set)',
    ]);
  }, 300_000);
});

/** Runs the bench; past `deadlineMs` it is stopped (SIGTERM: it drops what it made) and its output so
 * far returned, so a slow run fails with what it was doing rather than a bare hook timeout. The
 * smoke usually takes 2–3 minutes; on a machine busy with other work it has taken over 4. */
async function runBench(args: readonly string[], env: Record<string, string>, deadlineMs: number): Promise<{ exitCode: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['scripts/bench.mjs', ...args], {
    cwd: ROOT,
    env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = setTimeout(() => {
    stderr += `\n[bench-smoke] still running after ${deadlineMs / 1000} s: stopped. Last output:\n${stdout.slice(-2000)}`;
    child.kill('SIGTERM');
  }, deadlineMs);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))).finally(() => clearTimeout(deadline));
  return { exitCode, stdout, stderr };
}

/** The table's rows as {phase, conns, errors, opsPerSecond, ratio, notes}. */
function rows(markdown: string) {
  return markdown
    .split('\n')
    .filter((line) => line.startsWith('| ') && !line.startsWith('| phase |'))
    .map((line) => line.split(' | ').map((c) => c.replace(/^\| /, '').trim()))
    .filter((cells) => cells.length === 11)
    .map((cells) => ({ phase: cells[0]!, conns: cells[2]!, opsPerSecond: Number(cells[3]!.replace(/,/g, '')), errors: cells[6]!, ratio: cells[9]!, notes: cells[10]!.replace(/ \|$/, '') }));
}

/** Each write row's exactly-once note: some accepted, at least as many applied, none lost or twice. */
function expectExactlyOnce(writes: readonly { phase: string; conns: string; notes: string }[]): void {
  for (const row of writes) {
    const [, accepted, applied, lost, twice] = /exactly once: (\d+) accepted, (\d+) applied, (\d+) lost, (\d+) twice/.exec(row.notes) ?? [];
    expect({ row: `${row.phase}@${row.conns}`, accepted: Number(accepted) > 0, applied: Number(applied) >= Number(accepted), lost, twice }).toEqual({
      row: `${row.phase}@${row.conns}`,
      accepted: true,
      applied: true,
      lost: '0',
      twice: '0',
    });
  }
}

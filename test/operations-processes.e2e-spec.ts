import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gatewayDatabaseUrl } from '@p2/platform';
import { createTestDatabase, createTestTopics, eventually } from '@p2/testing';
import { testAppEnv } from './support/app-env';
import { expectErrorBody, http } from './support/http';
import { opensslCsr } from './support/openssl';
import { freePorts } from './support/ports';

const ROOT = resolve(__dirname, '..');
const PASSWORD = 'a password nobody may log';

/** One log line as pino writes it (P2_LOG_FORMAT=json). */
interface LogLine {
  readonly role: string;
  readonly instance: string;
  readonly msg: string;
  readonly correlationId?: string;
  readonly reqId?: string;
}

/** The apps as separate processes from dist/ (as `npm start` runs them), each logging JSON to a
 * file of its own, and the monitor as `npm run monitor` runs it: what an operator greps and sees. */
describe('operating separate processes: logs and the monitor', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2-ops-'));
  const children: ChildProcess[] = [];
  const logFile = (name: string) => join(dir, `${name}.log`);
  const ids = { certstore: `cs-${randomBytes(3).toString('hex')}`, gateway: `gw-${randomBytes(3).toString('hex')}` };
  let env: Record<string, string>;
  let gatewayUrl: string;
  let cleanup: (() => Promise<void>)[] = [];

  const lines = (name: string): LogLine[] =>
    existsSync(logFile(name))
      ? readFileSync(logFile(name), 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((line) => JSON.parse(line) as LogLine)
      : [];

  function start(name: 'certstore' | 'gateway', extra: Record<string, string>): ChildProcess {
    const child = spawn(process.execPath, ['-r', './scripts/register-paths.cjs', `dist/apps/${name}/src/main.js`], {
      cwd: ROOT,
      env: { ...env, ...extra, P2_INSTANCE_ID: ids[name], P2_LOG_FILE: logFile(name) },
      stdio: 'ignore',
    });
    children.push(child);
    return child;
  }

  async function healthy(url: string): Promise<void> {
    await eventually(() => http('GET', url), { until: (r) => r.status === 200, timeoutMs: 90_000, intervalMs: 250, what: url });
  }

  beforeAll(async () => {
    const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build failed: ${build.stdout}${build.stderr}`);
    const db = await createTestDatabase('opsproc');
    const topics = await createTestTopics('opsproc');
    cleanup = [() => topics.remove(), () => db.drop()];
    const [gatewayPort, certstorePort] = await freePorts(2);
    env = {
      PATH: process.env.PATH ?? '',
      ...testAppEnv(db.url, topics.prefix),
      PORT: String(gatewayPort),
      CERTSTORE_PORT: String(certstorePort),
      LOG_LEVEL: 'debug',
      P2_LOG_FORMAT: 'json',
      P2_TELEMETRY_INTERVAL_MS: '500',
    };
    start('certstore', {});
    await healthy(`http://127.0.0.1:${certstorePort}/healthz`);
    // as in production: the gateway as its read-only database role (docs/architecture.md#database-roles)
    start('gateway', { DATABASE_URL: gatewayDatabaseUrl(db.url, env.P2_GATEWAY_DB_PASSWORD) });
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    await healthy(`${gatewayUrl}/healthz`);
  }, 240_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.all(children.map((child) => (child.exitCode === null ? new Promise((done) => child.once('exit', done)) : undefined)));
    for (const step of cleanup) await step().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('logs one request under one correlation id on both apps, and no password or token anywhere', async () => {
    const api = (path: string) => `${gatewayUrl}/.p2/core/v1${path}`;
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const registered = await http('POST', api('/register'), { json: { actor_name: 'zoe', auth_payload: { password: PASSWORD } }, headers: { 'x-request-id': requestId } });
    expect(registered.status).toBe(201);
    const csr = opensslCsr({ localName: 'zoe', domain: 'example.com', sessionId: 'tablet' });
    const traceId = randomBytes(16).toString('hex');
    const opened = await http('POST', api('/session/trust'), { json: { actor_name: 'zoe', csr: csr.csrPem, auth_payload: { password: PASSWORD } }, headers: { traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` } });
    expect(opened.status).toBe(201);
    expect(opened.headers.get('x-request-id')).toBe(traceId);
    const token = opened.body.token as string;
    const wrong = await http('DELETE', api('/session'), { json: { session_id: 'tablet' }, headers: { authorization: `Bearer ${token}`, 'x-p2-sensitive-solution': `${PASSWORD}!` } });
    expectErrorBody(wrong, 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
    const lastId = `del-${randomBytes(6).toString('hex')}`;
    const deleted = await http('DELETE', api('/session'), {
      json: { session_id: 'tablet' },
      headers: { authorization: `Bearer ${token}`, 'x-p2-sensitive-solution': PASSWORD, 'x-request-id': lastId },
    });
    expect(deleted.status).toBe(204);

    for (const id of [requestId, traceId]) {
      const gateway = await eventually(() => lines('gateway').filter((l) => l.correlationId === id || l.reqId === id), { until: (found) => found.some((l) => /reply to/.test(l.msg)) && found.some((l) => / 20[01] *$/.test(l.msg)) });
      expect(gateway.every((l) => l.role === 'gateway' && l.instance === ids.gateway)).toBe(true);
      const certstore = await eventually(() => lines('certstore').filter((l) => l.correlationId === id), { until: (found) => found.some((l) => /accepted/.test(l.msg)) });
      expect(certstore.every((l) => l.role === 'certstore' && l.instance === ids.certstore)).toBe(true);
    }

    // log lines leave in blocks (README.md#log-blocks): once the last request's lines are in the
    // files, so is every line written before them
    await eventually(() => lines('gateway').filter((l) => l.reqId === lastId), { until: (found) => found.some((l) => / 204 *$/.test(l.msg)) });
    await eventually(() => lines('certstore').filter((l) => l.correlationId === lastId), { until: (found) => found.some((l) => /accepted/.test(l.msg)) });
    const everything = `${readFileSync(logFile('gateway'), 'utf8')}${readFileSync(logFile('certstore'), 'utf8')}`;
    expect(everything).toContain(requestId); // the files are the ones written, and complete enough
    for (const secret of [PASSWORD, `${PASSWORD}!`, token]) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/scrypt\$/);
    expect(everything).not.toMatch(/"authorization"|x-p2-sensitive-solution/i);
    // probes are answered but not logged (the start-up polled /healthz)
    expect(lines('gateway').filter((l) => /^GET \/healthz/.test(l.msg))).toEqual([]);
  });

  it('npm run monitor -- --once lists every running instance', async () => {
    const run = () =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
        const child = spawn('npm', ['run', '--silent', 'monitor', '--', '--once'], { cwd: ROOT, env: { PATH: env.PATH, HOME: process.env.HOME ?? '', KAFKA_BROKERS: env.KAFKA_BROKERS, P2_KAFKA_TOPIC_PREFIX: env.P2_KAFKA_TOPIC_PREFIX }, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        child.once('exit', (code) => done({ code, stdout, stderr }));
      });
    // run again while it finds a snapshot stale: --once joins a consumer group first, and on a
    // loaded machine that can take longer than a snapshot stays fresh (a few intervals)
    const result = await eventually(run, { until: (r) => r.code !== 0 || /^instances 2\/2 ready/m.test(r.stdout), timeoutMs: 60_000, intervalMs: 0, what: 'monitor --once' });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const rows = result.stdout.split('\n');
    expect(rows.find((r) => r.startsWith(ids.gateway))).toMatch(new RegExp(`^${ids.gateway}\\s+gateway\\s+ready\\s`));
    expect(rows.find((r) => r.startsWith(ids.certstore))).toMatch(new RegExp(`^${ids.certstore}\\s+certstore\\s+ready\\s`));
    expect(result.stdout).toMatch(/^instances 2\/2 ready .* DLQ 0$/m);
    expect(result.stdout).toMatch(/sensitive\.failed\s+zoe@example\.com\s+127\.0\.0\.1\s+solution-invalid/);
  }, 120_000);

  // last: it stops the gateway
  it('a process stopped with SIGTERM writes the lines it still held before it exits, and exits 0', async () => {
    const gateway = children[1]!;
    const id = `stop-${randomBytes(6).toString('hex')}`;
    expect((await http('GET', `${gatewayUrl}/.p2/core/v1/idcert/server`, { headers: { 'x-request-id': id } })).status).toBe(200);
    // at once: the line is one of a block not yet full, far within the 250 ms before a timed write
    gateway.kill('SIGTERM');
    const [code, signal] = await new Promise<[number | null, string | null]>((done) => gateway.once('exit', (c, s) => done([c, s])));
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(lines('gateway').filter((l) => l.reqId === id).map((l) => l.msg)).toEqual(['GET /.p2/core/v1/idcert/server 200']);
  });
});

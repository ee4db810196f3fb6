import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { resolve } from 'node:path';
import { Client } from 'pg';
import { SECRET_VARIABLES } from '@p2/config';
import { gatewayDatabaseUrl, gatewayRoleName } from '@p2/platform';
import { createTestDatabase, eventually } from '@p2/testing';
import { expectErrorBody, http, type HttpResult } from './support/http';
import { freePorts } from './support/ports';

const ROOT = resolve(__dirname, '..');
const PASSWORD = 'correct horse battery staple';

/** Every process below `root` (its children, theirs, …), from /proc. */
function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      // the command name (2nd field) may hold spaces and parentheses: read after the last ')'
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  let frontier = [root];
  while (frontier.length > 0) {
    const next = [...parentOf].filter(([, parent]) => frontier.includes(parent)).map(([pid]) => pid);
    found.push(...next);
    frontier = next;
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // a zombie is dead; only its parent has not collected it yet
    return !/^[0-9]+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

/** The environment a process was started with, from /proc (its `environ`). */
function environOf(pid: number): Map<string, string> {
  const lines = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
  return new Map(lines.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** The first of `pids` whose command line matches `pattern`. */
function processMatching(pids: number[], pattern: RegExp): number | undefined {
  return pids.find((pid) => {
    try {
      return pattern.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'));
    } catch {
      return false;
    }
  });
}

const portFree = (port: number): Promise<boolean> =>
  new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });

/** `npm start` as an operator (or systemd, or `docker stop`) runs and stops it: on free ports, its
 * own Kafka broker, a database of the suite's PostgreSQL server. */
describe('stopping npm start', () => {
  let dropDatabase: () => Promise<void>;
  let databaseUrl: string;
  // both starts share the database, hence its server key
  const keyEncryptionKey = randomBytes(32).toString('hex');
  // every secret npm start is given: each process must get only its own (docs/architecture.md#secrets)
  const secrets = {
    P2_KEY_ENCRYPTION_KEY: keyEncryptionKey,
    P2_TOKEN_KEY: randomBytes(32).toString('hex'),
    P2_CHALLENGE_KEY: randomBytes(32).toString('hex'),
    P2_METRICS_TOKEN: randomBytes(24).toString('hex'),
    P2_ADMIN_PASSWORD: randomBytes(24).toString('hex'),
  };

  beforeAll(async () => {
    const db = await createTestDatabase('startstop');
    databaseUrl = db.url;
    dropDatabase = db.drop;
  });

  afterAll(async () => {
    await dropDatabase?.();
  });

  async function startServer(): Promise<{ npm: ChildProcess; ports: number[]; url: string; output: () => string }> {
    const ports = await freePorts(4);
    const [gatewayPort, certstorePort, kafkaPort, controllerPort] = ports as [number, number, number, number];
    const env: Record<string, string | undefined> = {
      ...process.env,
      PORT: String(gatewayPort),
      CERTSTORE_PORT: String(certstorePort),
      KAFKA_PORT: String(kafkaPort),
      KAFKA_CONTROLLER_PORT: String(controllerPort),
      DATABASE_URL: databaseUrl,
      P2_DOMAIN: 'example.com',
      ...secrets,
      P2_KAFKA_TOPIC_PREFIX: '',
      LOG_LEVEL: 'warn',
      P2_COMMAND_PARTITIONS: '2',
      P2_EVENT_PARTITIONS: '2',
      P2_REPLY_PARTITIONS: '1',
    };
    // a broker of its own, so that stopping it is part of what is checked
    delete env.KAFKA_BROKERS;
    const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await eventually(async () => output, { until: (text) => / is up: /.test(text) || npm.exitCode !== null, timeoutMs: 240_000, intervalMs: 500, what: 'npm start to be up' });
    expect({ exitCode: npm.exitCode, up: / is up: /.test(output), output: npm.exitCode === null ? '' : output.slice(-3000) }).toEqual({ exitCode: null, up: true, output: '' });
    return { npm, ports, url: `http://127.0.0.1:${gatewayPort}`, output: () => output };
  }

  async function expectAllGone(pids: number[], ports: number[]): Promise<void> {
    const left = await eventually(async () => pids.filter(alive), { until: (still) => still.length === 0, timeoutMs: 90_000, intervalMs: 250, what: 'every started process to end' });
    expect(left).toEqual([]);
    const taken = await eventually(async () => (await Promise.all(ports.map(async (port) => ((await portFree(port)) ? undefined : port)))).filter(Boolean), {
      until: (still) => still.length === 0,
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'every port to be free',
    });
    expect(taken).toEqual([]);
  }

  it('SIGTERM to npm stops the start script, both apps and Kafka, after answering the requests in flight', async () => {
    const { npm, ports, url, output } = await startServer();
    const pids = descendants(npm.pid!);
    // npm, its start script, certstore, gateway, Kafka and the guard
    expect(pids.length).toBeGreaterThanOrEqual(4);

    const names = Array.from({ length: 6 }, (_, i) => `drain-${i}`);
    let settled = 0;
    // tagged rather than told apart with instanceof: node's errors come from outside Jest's realm
    const inFlight: Promise<{ answer: HttpResult } | { error: NodeJS.ErrnoException }>[] = names.map((name) =>
      http('POST', `${url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password: PASSWORD } } })
        .then(
          (answer) => ({ answer }),
          (error: NodeJS.ErrnoException) => ({ error }),
        )
        .finally(() => settled++),
    );
    // the signal comes once the gateway has taken every request (each in flight or answered) and
    // some are still in flight: those are what the stop must not cut off
    const inFlightGauge = async (): Promise<number> => {
      const metrics = await http('GET', `${url}/metrics`, { headers: { authorization: `Bearer ${secrets.P2_METRICS_TOKEN}` } });
      const line = /^p2_http_requests_in_flight(?:\{[^}]*\})? (\S+)$/m.exec(metrics.text);
      if (metrics.status !== 200 || !line) throw new Error(`no in-flight gauge in GET /metrics (${metrics.status})`);
      return Number(line[1]);
    };
    await eventually(async () => ({ inFlight: await inFlightGauge(), settled }), {
      until: ({ inFlight, settled: answered }) => inFlight > 0 && inFlight + answered >= names.length,
      timeoutMs: 30_000,
      intervalMs: 10,
      what: 'the gateway to hold every request, some not yet answered',
    });
    npm.kill('SIGTERM');
    const exitCode = await new Promise((done) => npm.once('exit', (code, signal) => done(signal ?? code)));
    expect(exitCode).toBe(0);
    await expectAllGone([npm.pid!, ...pids], ports);
    expect(output()).toMatch(/\[start\] stopped/);

    // every request the gateway took was answered, and what it accepted was applied: none is cut off
    // by the stop (a refused connection is the only sign of one it never took)
    const outcomes = await Promise.all(inFlight);
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const registered = (await db.query(`SELECT stream_id FROM events WHERE type = 'ActorRegistered'`)).rows.map((r) => r.stream_id as string);
      outcomes.forEach((outcome, i) => {
        if ('error' in outcome) {
          expect({ name: names[i], error: outcome.error.code ?? outcome.error.message }).toEqual({ name: names[i], error: 'ECONNREFUSED' });
        } else if (outcome.answer.status === 503) {
          expectErrorBody(outcome.answer, 503, 'P2CORE_UNAVAILABLE');
        } else {
          expect({ name: names[i], status: outcome.answer.status }).toEqual({ name: names[i], status: 201 });
          expect(registered).toContain(`actor-${names[i]}@example.com`);
        }
      });
      expect(outcomes.filter((outcome) => 'answer' in outcome && outcome.answer.status === 201).length).toBeGreaterThan(0);
    } finally {
      await db.end();
    }
  }, 360_000);

  it('a KAFKA_PORT that is no port is refused by name before anything starts', async () => {
    for (const [ports, problem] of [
      [{ KAFKA_PORT: 'abc' }, 'KAFKA_PORT must be a positive integer, got "abc"'],
      [{ KAFKA_PORT: '19094', KAFKA_CONTROLLER_PORT: '19094' }, 'Kafka port and controller port must differ (both 19094)'],
    ] as const) {
      const env: Record<string, string | undefined> = { ...process.env, DATABASE_URL: databaseUrl, ...secrets, ...ports };
      delete env.KAFKA_BROKERS;
      const npm = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      npm.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      npm.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const code = await new Promise<number | null>((done) => npm.on('exit', done));
      expect({ code, problem: output.includes(problem), started: /starting Kafka|migrat/i.test(output) }).toEqual({ code: 2, problem: true, started: false });
    }
  }, 240_000);

  it('SIGKILL of the start script: its guard stops both apps and Kafka', async () => {
    const { npm, ports, url } = await startServer();
    const pids = descendants(npm.pid!);

    // on the way: the gateway npm start runs connects as its read-only role and is not given the
    // migrating role's URL (docs/architecture.md#database-roles)
    const role = gatewayRoleName(databaseUrl);
    const gatewayPid = processMatching(pids, /dist\/apps\/gateway\/src\/main\.js/);
    expect(gatewayPid).toBeDefined();
    const gatewayUrl = new URL(environOf(gatewayPid!).get('DATABASE_URL')!);
    // the role's URL with the password npm start made for this start (the migrations set it), never the owner's credentials
    const passwordMade = decodeURIComponent(gatewayUrl.password);
    expect(passwordMade).toMatch(/^[0-9a-f]{48}$/);
    expect(gatewayUrl.href).toBe(gatewayDatabaseUrl(databaseUrl, passwordMade));

    // each process holds the secrets of its role only (docs/architecture.md#secrets): the gateway
    // no key-encryption key, the certstore no token or challenge key, the broker and the guard none
    const secretsOf = (pid: number | undefined) => {
      expect(pid).toBeDefined();
      const env = environOf(pid!);
      return Object.keys(SECRET_VARIABLES).filter((name) => env.has(name)).sort();
    };
    const certstorePid = processMatching(pids, /dist\/apps\/certstore\/src\/main\.js/);
    const brokerPid = processMatching(pids, /kafka\.Kafka/);
    const guardPid = processMatching(pids, /scripts\/cluster-guard\.mjs/);
    expect({
      gateway: secretsOf(gatewayPid),
      certstore: secretsOf(certstorePid),
      broker: secretsOf(brokerPid),
      guard: secretsOf(guardPid),
    }).toEqual({
      gateway: ['DATABASE_URL', 'P2_CHALLENGE_KEY', 'P2_METRICS_TOKEN', 'P2_TOKEN_KEY'],
      certstore: ['DATABASE_URL', 'P2_GATEWAY_DB_PASSWORD', 'P2_KEY_ENCRYPTION_KEY', 'P2_METRICS_TOKEN'],
      broker: [],
      guard: [],
    });
    // nor under another name: no value of a process's environment holds a secret that is not its role's
    const ownSecrets: Record<string, string[]> = { gateway: ['P2_TOKEN_KEY', 'P2_CHALLENGE_KEY', 'P2_METRICS_TOKEN', 'P2_GATEWAY_DB_PASSWORD'], certstore: ['P2_KEY_ENCRYPTION_KEY', 'P2_GATEWAY_DB_PASSWORD', 'P2_METRICS_TOKEN'], broker: [], guard: [] };
    expect(environOf(certstorePid!).get('P2_GATEWAY_DB_PASSWORD')).toBe(passwordMade);
    for (const [role, pid] of Object.entries({ gateway: gatewayPid, certstore: certstorePid, broker: brokerPid, guard: guardPid })) {
      const values = [...environOf(pid!).values()].join('\n');
      const foreign = Object.entries({ ...secrets, P2_GATEWAY_DB_PASSWORD: passwordMade }).filter(([name, value]) => !ownSecrets[role]!.includes(name) && values.includes(value));
      expect({ role, foreign: foreign.map(([name]) => name) }).toEqual({ role, foreign: [] });
    }
    expect((await http('GET', `${url}/.p2/core/v1/key/server`)).status).toBe(200);
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const users = await eventually(
        async () => (await db.query(`SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'p2-gateway:%'`)).rows.map((r) => r.usename as string),
        { until: (found) => found.length > 0, timeoutMs: 10_000, what: "the gateway's connections" },
      );
      expect(users).toEqual([role]);
    } finally {
      await db.end();
    }

    const script = pids.find((pid) => /scripts\/start\.mjs/.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8')));
    expect(script).toBeDefined();
    process.kill(script!, 'SIGKILL');
    await expectAllGone([npm.pid!, ...pids], ports);
  }, 360_000);
});

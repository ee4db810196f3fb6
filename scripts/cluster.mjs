// Brings up a whole home server as separate processes — Kafka (unless KAFKA_BROKERS is set), the
// database and its migrations, one certstore and one gateway — and stops what it started. Used by
// `npm start` (scripts/start.mjs) and `npm run bench` (scripts/bench.mjs). Call build() first: the
// apps run from dist/. The apps run in process groups of their own, so that a terminal's Ctrl-C
// reaches only the owner, which stops them in order (gateways first, then certstores: in-flight
// commands are answered); a guard process (scripts/cluster-guard.mjs) stops them and the broker
// when the owner dies without doing so.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_KAFKA_VERSION, ensureTopics, startKafka, stopKafka } from './kafka.mjs';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** Node options of every app started here (the image sets the same in NODE_OPTIONS): 32 MiB
 * semi-spaces, fewer scavenges at high request rates (docs/benchmarks.md#young-generation). */
const APP_NODE_ARGS = ['--max-semi-space-size=32'];

/** Fills `env` from the git-ignored .env file (see .env.example) where the environment does not set a variable. */
export function applyDotEnv(env) {
  const dotenv = path.join(ROOT, '.env');
  if (!fs.existsSync(dotenv)) return env;
  for (const line of fs.readFileSync(dotenv, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && match[2] !== '' && env[match[1]] === undefined) env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
  }
  return env;
}

/** `count` distinct TCP ports nobody listens on right now (the kernel's picks, held until all are chosen). */
export async function freePorts(count) {
  const servers = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve()))));
  }
}

/**
 * A cluster to start. `env` is the apps' environment (PORT, CERTSTORE_PORT, DATABASE_URL, … are
 * taken from it; KAFKA_BROKERS is filled in when this starts the broker). `kafka` = {port,
 * controllerPort, purge}: where to start a broker when env.KAFKA_BROKERS is unset. `stdio`: where
 * the apps' output goes ('inherit' or a file descriptor). `onExit(name, code)` is called when an app
 * exits while the cluster is not stopping.
 *
 * `gatewayPorts` / `certstorePorts`: one port per app to run (default one of each, on env.PORT and
 * env.CERTSTORE_PORT).
 *
 * Returns {start(), stop(), kill(name, signal), restart(name), restartKafka(downMs)}: start()
 * resolves with {url, urls, kafkaVersion} once every app is healthy (url: the first gateway's,
 * urls: every gateway's); stop() may be called at any time (also during start-up, which then
 * rejects) and stops everything already started. kill() and restart() act on one app by name
 * (`gateway`, `certstore`, or `gateway-1`, `certstore-1`, … beyond the first); an app killed with
 * kill() is not reported to `onExit`. restartKafka() stops the broker this cluster started and
 * starts it again on the same port with its data (`npm run chaos`).
 */
export function createCluster({ env, kafka = {}, stdio = 'inherit', log = () => {}, onExit = () => {}, gatewayPorts, certstorePorts }) {
  const children = [];
  /** name → {script, env, url, child} of every app started */
  const apps = new Map();
  let kafkaStartedByUs = false;
  let kafkaPid;
  let stopping = false;
  let stopped;
  let guard;

  function startGuard() {
    guard = spawn(process.execPath, [path.join(ROOT, 'scripts', 'cluster-guard.mjs')], { cwd: ROOT, env: environmentOf(process.env, 'guard'), detached: true, stdio: ['ignore', 'ignore', stdio, 'ipc'] });
    guard.unref();
    guard.channel?.unref();
  }

  const tellGuard = (message) =>
    new Promise((resolve) => {
      if (!guard?.connected) return resolve();
      guard.send(message, () => resolve());
    });

  async function stop() {
    if (stopped) return stopped;
    stopping = true;
    stopped = (async () => {
      // gateways before certstores, each waited for: a gateway drains its in-flight requests while
      // the certstores still answer them
      const order = (child) => (child.appName?.startsWith('gateway') ? 0 : child.appName?.startsWith('certstore') ? 1 : 2);
      for (const child of [...children].sort((a, b) => order(a) - order(b))) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited(child, 15000);
      }
      if (kafkaStartedByUs) await stopKafka({ port: kafka.port, purge: kafka.purge ?? false });
      await tellGuard({ stopped: true });
    })();
    return stopped;
  }

  const abortIfStopping = () => {
    if (stopping) throw new Error('the cluster was stopped during start-up');
  };

  /** Starts `script` with `appEnv`: environmentOf(…) of its role, never the cluster's whole `env`. */
  function runNode(name, script, { service = true, appEnv }) {
    // CLUSTER_NODE_ARGS: node options for the apps that NODE_OPTIONS may not carry (--cpu-prof)
    const nodeArgs = (process.env.CLUSTER_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...APP_NODE_ARGS, ...nodeArgs, '-r', './scripts/register-paths.cjs', script], { cwd: ROOT, env: appEnv, stdio: ['ignore', stdio, stdio], detached: true });
    child.appName = name;
    children.push(child);
    void tellGuard({ app: { pid: child.pid, name } });
    if (service) {
      child.once('exit', (code, signal) => {
        if (!stopping && !child.killedOnPurpose) onExit(name, signal ?? code);
      });
    }
    return child;
  }

  async function runApp(name) {
    const app = apps.get(name);
    app.child = runNode(name, app.script, { appEnv: app.env });
    await waitHealthy(name, app.child, `${app.url}/healthz`);
  }

  /** Sends `signal` to one app and resolves once it has exited. */
  async function kill(name, signal = 'SIGKILL') {
    const app = apps.get(name);
    if (!app?.child) throw new Error(`no app named ${name}`);
    app.child.killedOnPurpose = true;
    if (app.child.exitCode === null && app.child.signalCode === null) app.child.kill(signal);
    await exited(app.child, 15000);
  }

  /** Starts one app again (after kill()) and resolves once it is healthy. */
  async function restart(name) {
    const app = apps.get(name);
    if (!app) throw new Error(`no app named ${name}`);
    if (app.child && app.child.exitCode === null && app.child.signalCode === null) await kill(name, 'SIGTERM');
    await runApp(name);
  }

  /** Stops the broker this cluster started, waits `downMs`, and starts it again with its data. */
  async function restartKafka(downMs = 0) {
    if (!kafkaStartedByUs) throw new Error('the broker was not started by this cluster');
    await stopKafka({ port: kafka.port, purge: false, quiet: true });
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await startKafka({ port: kafka.port, controllerPort: kafka.controllerPort, quiet: true, env: environmentOf(process.env, 'broker') });
  }

  async function waitHealthy(name, child, url, deadlineMs = 120000) {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      abortIfStopping();
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited during start-up (${child.signalCode ?? child.exitCode})`);
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${name} did not become healthy at ${url} in time`);
  }

  async function start() {
    try {
      startGuard();
      env.PORT ??= '3000';
      env.CERTSTORE_PORT ??= '3001';
      // The migrations set the gateway role's password from it on every start; without one
      // configured, one made for this start serves (a PostgreSQL that asks for passwords, as in a
      // container, then admits the gateway; one that trusts local connections never asks).
      if (!env.P2_GATEWAY_DB_PASSWORD?.trim()) env.P2_GATEWAY_DB_PASSWORD = randomBytes(24).toString('hex');
      let kafkaVersion = 'external broker (KAFKA_BROKERS), version not known';
      if (!env.KAFKA_BROKERS) {
        log(`starting Kafka on 127.0.0.1:${kafka.port} (set KAFKA_BROKERS to use another broker)`);
        const started = await startKafka({ port: kafka.port, controllerPort: kafka.controllerPort, topicPrefix: env.P2_KAFKA_TOPIC_PREFIX ?? '', env: environmentOf(process.env, 'broker') });
        kafkaStartedByUs = started.startedByUs;
        kafkaPid = started.pid;
        if (kafkaStartedByUs) await tellGuard({ kafka: { port: kafka.port, purge: kafka.purge ?? false } });
        // stop() may have run while the broker was starting: it could not stop it then
        if (stopping && kafkaStartedByUs) await stopKafka({ port: kafka.port, purge: kafka.purge ?? false });
        env.KAFKA_BROKERS = started.brokers;
        kafkaVersion = process.env.KAFKA_VERSION || DEFAULT_KAFKA_VERSION;
      } else {
        await ensureTopics(env.KAFKA_BROKERS, {}, env.P2_KAFKA_TOPIC_PREFIX ?? '');
      }
      abortIfStopping();
      const migrate = runNode('migrate', 'dist/apps/certstore/src/migrate.js', { service: false, appEnv: environmentOf(env, 'migrate') });
      const code = await exited(migrate);
      abortIfStopping();
      if (code !== 0) throw new Error(`database migration failed (${code})`);
      const plan = [
        ['certstore', 'dist/apps/certstore/src/main.js', 'CERTSTORE_PORT', certstorePorts ?? [env.CERTSTORE_PORT]],
        ['gateway', 'dist/apps/gateway/src/main.js', 'PORT', gatewayPorts ?? [env.PORT]],
      ];
      for (const [role, script, portVariable, ports] of plan) {
        for (const [i, port] of ports.entries()) {
          const name = i === 0 ? role : `${role}-${i}`;
          apps.set(name, { script, env: { ...(role === 'gateway' ? gatewayEnv(env) : environmentOf(env, 'certstore')), [portVariable]: String(port) }, url: `http://127.0.0.1:${port}` });
          await runApp(name);
          abortIfStopping();
        }
      }
      const urls = [...apps].filter(([name]) => name.startsWith('gateway')).map(([, app]) => app.url);
      return { url: urls[0], urls, kafkaVersion };
    } catch (error) {
      await stop();
      throw error;
    }
  }

  /** name → pid of every app running, and `kafka` for a broker this cluster started (`npm run bench -- --cpu`). */
  function pids() {
    const named = new Map();
    for (const [name, app] of apps) if (app.child?.pid && app.child.exitCode === null && app.child.signalCode === null) named.set(name, app.child.pid);
    if (kafkaPid) named.set('kafka', kafkaPid);
    return named;
  }

  return { start, stop, kill, restart, restartKafka, pids };
}

/**
 * glibc's malloc for the gateway: the 128 MiB that each scrypt password check allocates is asked
 * for with transparent huge pages (docs/architecture.md#password-hashing). The Dockerfile sets
 * the same; a GLIBC_TUNABLES of the environment wins.
 */
export const GATEWAY_GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1';

/** The gateway's environment: its own secrets only, and as its database connection the read-only
 * role the migrations create for the database of DATABASE_URL (docs/architecture.md#database-roles),
 * never the migrating role the certstore uses. Reads dist/ (call build() first). */
function gatewayEnv(env) {
  const { gatewayDatabaseUrl } = require(path.join(ROOT, 'dist/libs/platform/src/database.js'));
  const { DEFAULT_DATABASE_URL } = require(path.join(ROOT, 'dist/libs/config/src/config.js'));
  return {
    ...environmentOf(env, 'gateway'),
    DATABASE_URL: gatewayDatabaseUrl(env.DATABASE_URL ?? DEFAULT_DATABASE_URL, env.P2_GATEWAY_DB_PASSWORD?.trim() || undefined),
    GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? GATEWAY_GLIBC_TUNABLES,
  };
}

/**
 * `env` without the secrets `role` (gateway, certstore, migrate, broker, guard, bench) does not
 * read, after libs/config's list of who reads which (SECRET_VARIABLES): each child is started with
 * the secrets of its role only (docs/architecture.md#secrets). Reads dist/ (call build() first).
 */
export function environmentOf(env, role) {
  return require(path.join(ROOT, 'dist/libs/config/src/process-env.js')).environmentOf(env, role);
}

/** Resolves with the exit code (or signal) of `child`; SIGKILLs it after `killAfterMs` when given. */
function exited(child, killAfterMs) {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(child.signalCode ?? child.exitCode);
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(signal ?? code);
    });
  });
}

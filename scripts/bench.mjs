#!/usr/bin/env node
// `npm run bench`: measures the home server on this machine. Installs dependencies if needed,
// compiles, then either starts a cluster of its own like `npm start` does — Kafka on free ports
// (or KAFKA_BROKERS with topics under a prefix of its own), a database of its own, one certstore and
// one gateway as separate processes (or as many as --topology says) — or, with BENCH_URL=<base>,
// drives a cluster that is already running. The runner (bench/src/main.ts) prints one table and
// writes docs/benchmarks.md and docs/benchmarks.svg (benchmarks-<GxC>.* for another topology).
// Everything started here is stopped, and the database dropped, at the end and on Ctrl-C / SIGTERM.
// Options: `npm run bench -- --help`.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, ensureDeps } from './ensure-deps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const log = (line) => process.stderr.write(`[bench] ${line}\n`);
const argv = process.argv.slice(2);

ensureDeps();
build();
const { BENCH_USAGE, BenchOptionsError, parseBenchOptions, topologyName } = require('../dist/bench/src/bench-options.js');
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${BENCH_USAGE}\n`);
  process.exit(0);
}
let options;
try {
  options = parseBenchOptions(argv);
  if (process.env.BENCH_URL && topologyName(options.topology) !== '1x1') {
    throw new BenchOptionsError('--topology sets the cluster the bench starts; with BENCH_URL the cluster is already running');
  }
} catch (error) {
  if (!(error instanceof BenchOptionsError)) throw error;
  process.stderr.write(`${error.message}\n${BENCH_USAGE}\n`);
  process.exit(2);
}

const { applyDotEnv, createCluster, environmentOf, freePorts, GATEWAY_GLIBC_TUNABLES } = await import('./cluster.mjs');
const { deleteTopics } = await import('./kafka.mjs');
const { dropDatabase, ensureDatabase } = require('../dist/libs/platform/src/database.js');

// into process.env too: scripts/kafka.mjs, which starts the broker in this process, reads its
// settings (topic prefix, partitions, JVM options, extra broker properties) from there
applyDotEnv(process.env);
const env = { ...process.env };
const runId = randomBytes(4).toString('hex');
const databaseUrl = new URL(env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
databaseUrl.pathname = `/p2_bench_${runId}`;
const runDir = path.join(ROOT, '.run', `bench-${runId}`);
fs.mkdirSync(runDir, { recursive: true });
const clusterLog = path.join(runDir, 'cluster.log');

let cluster;
let runner;
let topicPrefix;
let databaseCreated = false;
let cleaning;

function cleanup() {
  cleaning ??= (async () => {
    if (runner && runner.exitCode === null && runner.signalCode === null) {
      // the runner exits by itself within its grace period; one that does not is killed, so that
      // the cluster, the database and the topics below are always cleaned up
      const exited = new Promise((resolve) => runner.once('exit', resolve));
      runner.kill('SIGTERM');
      const killer = setTimeout(() => {
        log('the runner did not stop within 15 s: killing it');
        runner.kill('SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(killer);
    }
    await cluster?.stop().catch((error) => log(`stopping the cluster: ${error.message}`));
    if (topicPrefix) await deleteTopics(env.KAFKA_BROKERS, topicPrefix).catch((error) => log(`deleting topics ${topicPrefix}*: ${error.message}`));
    if (databaseCreated) await dropDatabase(databaseUrl.toString()).catch((error) => log(`dropping ${databaseUrl.pathname.slice(1)}: ${error.message}`));
  })();
  return cleaning;
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping what the bench started`);
    void cleanup().then(() => {
      fs.rmSync(runDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

async function startOwnCluster() {
  const appEnv = {
    ...env,
    DATABASE_URL: databaseUrl.toString(),
    // a key of its own: the bench's database holds nothing worth keeping
    P2_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    P2_TOKEN_KEY: randomBytes(32).toString('hex'),
    P2_CHALLENGE_KEY: randomBytes(32).toString('hex'),
    // the load comes from one address: the bench measures the server, not its limits
    P2_RATE_LIMITS_ENABLED: 'false',
  };
  delete appEnv.P2_PUBLIC_URL;
  const { gateways, certstores } = options.topology;
  const [kafkaPort, controllerPort, ...appPorts] = await freePorts(2 + gateways + certstores);
  const gatewayPorts = appPorts.slice(0, gateways);
  const certstorePorts = appPorts.slice(gateways);
  appEnv.PORT = String(gatewayPorts[0]);
  appEnv.CERTSTORE_PORT = String(certstorePorts[0]);
  const ownKafka = !appEnv.KAFKA_BROKERS;
  let kafka = {};
  if (ownKafka) {
    kafka = { port: kafkaPort, controllerPort, purge: true };
  } else {
    topicPrefix = `bench-${runId}.`;
    appEnv.P2_KAFKA_TOPIC_PREFIX = topicPrefix;
  }
  const logFd = fs.openSync(clusterLog, 'a');
  databaseCreated = true; // the migration creates it; dropping a database that is not there is fine
  cluster = createCluster({
    env: appEnv,
    kafka,
    gatewayPorts,
    certstorePorts,
    stdio: logFd,
    log,
    onExit: (name, code) => {
      log(`${name} exited (${code}) during the bench; its log: ${path.relative(ROOT, clusterLog)}\n${tail(clusterLog)}`);
      void cleanup().then(() => process.exit(1));
    },
  });
  log(`starting a cluster: database ${databaseUrl.pathname.slice(1)}, ${plural(gateways, 'gateway')} on ${gatewayPorts.join(', ')}, ${plural(certstores, 'certstore')}, log ${path.relative(ROOT, clusterLog)}`);
  const { urls, kafkaVersion } = await cluster.start();
  const partitions = `${appEnv.P2_COMMAND_PARTITIONS ?? 12} command partitions, ${appEnv.P2_REPLY_PARTITIONS ?? 4} reply partitions`;
  const shape =
    gateways === 1 && certstores === 1
      ? '1 gateway + 1 certstore, separate processes on this machine (as `npm start`)'
      : `${plural(gateways, 'gateway')} + ${plural(certstores, 'certstore')}, separate processes on this machine (the load spread evenly over the gateways)`;
  return {
    urls,
    databaseUrl: databaseUrl.toString(),
    kafka: ownKafka ? `${kafkaVersion} (a broker of its own, started by the bench with scripts/kafka.mjs)` : kafkaVersion,
    topology: `${shape}, ${partitions}, its own database`,
    threadpool: appEnv.UV_THREADPOOL_SIZE,
    glibcTunables: appEnv.GLIBC_TUNABLES ?? GATEWAY_GLIBC_TUNABLES,
    scryptCost: appEnv.P2_PASSWORD_SCRYPT_COST,
    pids: [...cluster.pids(), ...externalKafkaPid(appEnv.KAFKA_BROKERS, ownKafka)],
  };
}

function plural(n, what) {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

/** A broker given in KAFKA_BROKERS on this machine: its pid, for --cpu. Started by
 * scripts/kafka.mjs from this checkout, its pid file says; else (another checkout's broker, one
 * started by hand) the process listening on its port does. Without it the broker's CPU would be
 * missing from every cell's total, and totals of two runs would not compare. */
function externalKafkaPid(brokers, ownKafka) {
  const port = /^(?:127\.0\.0\.1|localhost):(\d+)$/.exec(brokers ?? '')?.[1];
  if (ownKafka || !port) return [];
  let pid;
  try {
    pid = Number(fs.readFileSync(path.join(ROOT, '.run', `kafka-${port}`, 'kafka.pid'), 'utf8').trim());
  } catch {
    const listening = spawnSync('ss', ['-Htlnp', `sport = :${port}`], { encoding: 'utf8' });
    pid = Number(/pid=(\d+)/.exec(listening.stdout ?? '')?.[1]);
  }
  if (Number.isInteger(pid) && pid > 0) return [['kafka', pid]];
  process.stderr.write(`[bench] no process found listening on the broker's port ${port}: --cpu leaves it out of the totals\n`);
  return [];
}

let status = 1;
try {
  let target;
  if (env.BENCH_URL) {
    // the ceilings still need a local PostgreSQL for pgbench: a scratch database of its own
    await ensureDatabase(databaseUrl.toString());
    databaseCreated = true;
    // the exactly-once check reads the cluster's own log and command record, in its database if given
    target = { urls: [env.BENCH_URL], databaseUrl: env.BENCH_DATABASE_URL, kafka: 'the cluster’s own (not known to the bench)', topology: `the running cluster at ${env.BENCH_URL}`, threadpool: env.UV_THREADPOOL_SIZE, glibcTunables: env.GLIBC_TUNABLES, scryptCost: env.P2_PASSWORD_SCRYPT_COST };
  } else {
    target = await startOwnCluster();
  }
  if (interrupted) await new Promise(() => {});
  runner = spawn(process.execPath, ['-r', './scripts/register-paths.cjs', 'dist/bench/src/main.js', ...argv], {
    cwd: ROOT,
    stdio: 'inherit',
    // the load runner reads none of the apps' secrets (.env may hold them: applied to process.env above)
    env: {
      ...environmentOf(process.env, 'bench'),
      BENCH_TARGET_URLS: target.urls.join(','),
      BENCH_PG_URL: databaseUrl.toString(),
      BENCH_CLUSTER_PG_URL: target.databaseUrl ?? '',
      BENCH_KAFKA: target.kafka,
      BENCH_TOPOLOGY: target.topology,
      BENCH_GATEWAY_THREADPOOL: target.threadpool ?? '',
      BENCH_GATEWAY_GLIBC_TUNABLES: target.glibcTunables ?? '',
      BENCH_GATEWAY_SCRYPT_COST: target.scryptCost ?? '',
      BENCH_PIDS: (target.pids ?? []).map(([name, pid]) => `${name}:${pid}`).join(','),
      BENCH_VIA_NPM: process.env.npm_lifecycle_event === 'bench' ? '1' : '0',
    },
  });
  status = await new Promise((resolve) => runner.once('exit', (code, signal) => resolve(signal ? 1 : (code ?? 1))));
} catch (error) {
  if (!interrupted) {
    log(`failed: ${error.message}`);
    const logTail = tail(clusterLog);
    if (logTail.trim()) log(`cluster log (${path.relative(ROOT, clusterLog)}):\n${logTail}`);
  }
}
if (interrupted) await new Promise(() => {});
await cleanup();
if (status === 0) fs.rmSync(runDir, { recursive: true, force: true });
else if (fs.existsSync(clusterLog)) log(`the cluster's log is kept in ${path.relative(ROOT, clusterLog)}`);
process.exit(status);

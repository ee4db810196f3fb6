#!/usr/bin/env node
// `npm run chaos`: faults under load, with figures (docs/chaos.md). Installs dependencies if needed,
// compiles, then starts everything it needs of its own: a Kafka broker (scripts/kafka.mjs) on free
// ports, a PostgreSQL server made with initdb in a temporary directory on a free port (never the
// machine's shared server), and two gateways and two certstores as separate processes
// (scripts/cluster.mjs, as `npm start` runs them). The runner (bench/src/chaos/chaos-run.ts) puts a
// bounded mixed write load on the gateways and, in turn, SIGKILLs a certstore, SIGKILLs a gateway,
// restarts Kafka and restarts PostgreSQL; it prints one table and exits 1 when a requirement is not
// met. Everything started here is stopped and removed at the end and on Ctrl-C / SIGTERM.
//
//   npm run chaos                    the full run
//   npm run chaos -- --smoke         a short run (what npm test runs): small load, same checks
//   npm run chaos -- --json <file>   also write the figures as JSON
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, ensureDeps } from './ensure-deps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const log = (line) => process.stderr.write(`[chaos] ${line}\n`);
const argv = process.argv.slice(2);
const smoke = argv.includes('--smoke');
const jsonOut = argv.includes('--json') ? argv[argv.indexOf('--json') + 1] : undefined;

ensureDeps();
build();
require('./register-paths.cjs');
const { runChaos, chaosTable, chaosFailures, certstoreCrashShareFailure } = require('../dist/bench/src/chaos/chaos-run.js');
const { createCluster, freePorts } = await import('./cluster.mjs');

const runId = randomBytes(4).toString('hex');
const runDir = path.join(ROOT, '.run', `chaos-${runId}`);
fs.mkdirSync(runDir, { recursive: true });
const clusterLog = path.join(runDir, 'cluster.log');

/** A PostgreSQL server of its own: initdb in a temporary directory, as the postgres user when run as root (initdb refuses root). */
function ownPostgres(port) {
  const bin = [process.env.P2_PG_BIN, '/usr/lib/postgresql/15/bin', ...listPgBins()].find((dir) => dir && fs.existsSync(path.join(dir, 'initdb')));
  if (!bin) throw new Error('initdb not found (set P2_PG_BIN to the directory of initdb and pg_ctl)');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'p2-chaos-pg-'));
  const data = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) spawnSync('chown', ['-R', 'postgres:postgres', dir]);
  const run = (tool, args) => {
    const command = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args]] : [path.join(bin, tool), args];
    const result = spawnSync(command[0], command[1], { encoding: 'utf8', cwd: dir });
    if (result.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed: ${result.stderr}${result.stdout}`);
  };
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off`;
  return {
    dir,
    url: `postgres://postgres@127.0.0.1:${port}/p2_chaos`,
    init() {
      run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync']);
    },
    start() {
      run('pg_ctl', ['-D', data, '-l', path.join(dir, 'postgres.log'), '-o', options, '-w', '-t', '120', 'start']);
    },
    stop(mode = 'fast') {
      run('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '120', 'stop']);
    },
    remove() {
      try {
        this.stop('immediate');
      } catch {
        // not running
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listPgBins() {
  try {
    return fs
      .readdirSync('/usr/lib/postgresql')
      .sort()
      .reverse()
      .map((v) => `/usr/lib/postgresql/${v}/bin`);
  } catch {
    return [];
  }
}

let cluster;
let postgres;
let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    await cluster?.stop().catch((error) => log(`stopping the cluster: ${error.message}`));
    try {
      postgres?.remove();
    } catch (error) {
      log(`removing PostgreSQL: ${error.message}`);
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping what chaos started`);
    void cleanup().then(() => process.exit(130));
  });
}

let status = 1;
try {
  const [pgPort, kafkaPort, controllerPort, gw0, gw1, cs0, cs1] = await freePorts(7);
  postgres = ownPostgres(pgPort);
  postgres.init();
  postgres.start();
  log(`PostgreSQL of its own on 127.0.0.1:${pgPort} (${postgres.dir}); cluster log ${path.relative(ROOT, clusterLog)}`);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    P2_CACHE_DIR: process.env.P2_CACHE_DIR,
    NODE_ENV: 'development',
    DATABASE_URL: postgres.url,
    P2_DOMAIN: 'chaos.example',
    P2_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    P2_PASSWORD_SCRYPT_COST: '14',
    // every client of the load comes from 127.0.0.1: per-address limits would answer its setup 429
    P2_RATE_LIMITS_ENABLED: 'false',
    LOG_LEVEL: 'warn',
    P2_LOG_FORMAT: 'json',
    ...(smoke ? { P2_COMMAND_PARTITIONS: '4', P2_EVENT_PARTITIONS: '4', P2_REPLY_PARTITIONS: '2' } : {}),
  };
  for (const [name, value] of Object.entries(process.env)) if (/^(P2_|KAFKA_VERSION|KAFKA_JAVA_OPTS|JAVA_HOME)/.test(name) && env[name] === undefined) env[name] = value;
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  // its own broker, its own topic names
  env.P2_KAFKA_TOPIC_PREFIX = '';
  // the topic layout is read by kafka.mjs from this process's environment
  for (const name of ['P2_COMMAND_PARTITIONS', 'P2_EVENT_PARTITIONS', 'P2_REPLY_PARTITIONS']) if (env[name]) process.env[name] = env[name];
  const logFd = fs.openSync(clusterLog, 'a');
  cluster = createCluster({
    env,
    kafka: { port: kafkaPort, controllerPort, purge: true },
    stdio: logFd,
    log,
    gatewayPorts: [gw0, gw1],
    certstorePorts: [cs0, cs1],
    onExit: (name, code) => log(`${name} exited unexpectedly (${code}); see ${path.relative(ROOT, clusterLog)}`),
  });
  const { urls } = await cluster.start();
  log(`2 gateways (${urls.join(', ')}), 2 certstores, Kafka on 127.0.0.1:${kafkaPort}`);
  const faults = {
    'certstore SIGKILL': { inject: () => cluster.kill('certstore-1', 'SIGKILL'), restore: () => cluster.restart('certstore-1') },
    'gateway SIGKILL': { inject: () => cluster.kill('gateway-1', 'SIGKILL'), restore: () => cluster.restart('gateway-1') },
    'Kafka restart': { inject: () => cluster.restartKafka(0) },
    'PostgreSQL restart': {
      inject: async () => {
        postgres.stop('fast');
        // down long enough for commands to be held and reads to find no server
        await new Promise((resolve) => setTimeout(resolve, 3000));
        postgres.start();
      },
    },
  };
  const started = new Date();
  const figures = await runChaos({
    urls,
    databaseUrl: postgres.url,
    keyEncryptionKey: env.P2_KEY_ENCRYPTION_KEY,
    kafkaBrokers: env.KAFKA_BROKERS.split(','),
    deadLetterTopic: 'p2.core.commands.v1.dlq',
    faults,
    smoke,
    log,
  });
  const failures = chaosFailures(figures);
  const share = certstoreCrashShareFailure(figures);
  if (share && !smoke) failures.push(share);
  process.stdout.write(`\nnpm run chaos${smoke ? ' -- --smoke' : ''}: ${started.toISOString()}, ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), ${os.platform()} ${os.release()}\n\n`);
  process.stdout.write(`${chaosTable(figures)}\n\n`);
  process.stdout.write(failures.length === 0 ? 'all requirements met: 0 lost, 0 applied twice, every answer a success or a uniform 503, no dead letters, read models equal a rebuild' + (smoke ? '' : ', < 1 % 503 after a certstore SIGKILL') + '\n' : `requirements NOT met:\n${failures.map((f) => `- ${f}`).join('\n')}\n`);
  if (jsonOut) fs.writeFileSync(jsonOut, `${JSON.stringify({ figures, failures }, null, 2)}\n`);
  status = failures.length === 0 ? 0 : 1;
} catch (error) {
  if (!interrupted) log(`failed: ${error.stack ?? error.message}`);
}
if (interrupted) await new Promise(() => {});
await cleanup();
if (status === 0) fs.rmSync(runDir, { recursive: true, force: true });
else log(`the cluster's log is kept in ${path.relative(ROOT, clusterLog)}`);
process.exit(status);

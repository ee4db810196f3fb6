#!/usr/bin/env node
// `npm test`: installs dependencies if needed, provisions a real Kafka broker and PostgreSQL, runs
// the type check and every jest suite (unit, integration, end-to-end), then stops what it started.
//
// Where the services come from, in order:
//   1. KAFKA_BROKERS / DATABASE_URL from the environment (e.g. .ci/run starts Kafka itself);
//   2. testcontainers, when a Docker engine answers (`docker info`);
//   3. the local machine: Kafka through scripts/kafka.mjs on KAFKA_TEST_PORT (default 19092, so it
//      never collides with `npm start` on 9092) and the PostgreSQL server of DATABASE_URL
//      (default postgres://postgres@127.0.0.1:5432/postgres).
// Each test file creates its own database and its own Kafka topic prefix, and removes them after.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDeps } from './ensure-deps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const log = (line) => process.stderr.write(`[test] ${line}\n`);

ensureDeps();

const env = { ...process.env };
const cleanups = [];
let cleaning = false;
async function cleanup() {
  if (cleaning) return;
  cleaning = true;
  for (const fn of cleanups.reverse()) {
    try {
      await fn();
    } catch (error) {
      log(`cleanup failed: ${error.message}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => void cleanup().then(() => process.exit(130)));
}

function dockerAvailable() {
  if (process.env.P2_TEST_NO_DOCKER === '1') return false;
  const probe = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 10000 });
  return probe.status === 0;
}

async function provision() {
  if (env.KAFKA_BROKERS) {
    log(`using Kafka at ${env.KAFKA_BROKERS}`);
  } else if (dockerAvailable()) {
    log('a Docker engine answers: starting Kafka and PostgreSQL with testcontainers');
    const { startContainers } = await import('./testcontainers.mjs');
    const containers = await startContainers({ postgres: !env.DATABASE_URL });
    cleanups.push(() => containers.stop());
    env.KAFKA_BROKERS = containers.kafkaBrokers;
    if (containers.databaseUrl) env.DATABASE_URL = containers.databaseUrl;
  } else {
    const { startKafka, stopKafka } = await import('./kafka.mjs');
    const port = Number(env.KAFKA_TEST_PORT ?? 19092);
    log(`no Docker engine: starting a local Kafka broker on 127.0.0.1:${port}`);
    const kafka = await startKafka({ port, controllerPort: port + 1 });
    if (kafka.startedByUs) cleanups.push(() => stopKafka({ port }));
    env.KAFKA_BROKERS = kafka.brokers;
  }
  env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  log(`using PostgreSQL at ${env.DATABASE_URL.replace(/:[^:@/]*@/, ':***@')}`);
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: 'inherit' });
  return result.status ?? 1;
}

let status = 1;
try {
  await provision();
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  log('type check');
  status = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit']);
  if (status === 0) {
    log('lint');
    status = run(process.execPath, [path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.']);
  }
  if (status === 0) {
    const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    const report = path.join(os.tmpdir(), `p2-jest-${process.pid}.json`);
    status = run(process.execPath, [jest, '--ci', '--json', `--outputFile=${report}`, ...process.argv.slice(2)]);
    try {
      const { numPassedTests, numFailedTests, numPendingTests } = JSON.parse(fs.readFileSync(report, 'utf8'));
      fs.rmSync(report, { force: true });
      // the plain closing line CI tooling reads
      process.stdout.write(`\nTests: ${numPassedTests} passed, ${numFailedTests} failed, ${numPendingTests} skipped\n`);
    } catch {
      log('jest wrote no report');
    }
  }
} catch (error) {
  log(`provisioning failed: ${error.stack ?? error}`);
  status = 1;
} finally {
  await cleanup();
}
process.exit(status);

#!/usr/bin/env node
// `npm test`: installs dependencies if needed, provisions a real Kafka broker and PostgreSQL, runs
// the type check, the linter, the layer rules (dependency-cruiser) and every jest suite (unit,
// integration, end-to-end), then stops what it started.
//
// Two paths, chosen by P2_TEST_SERVICES:
//   docker  Kafka and PostgreSQL in containers (testcontainers), from the images of scripts/images.mjs
//           (official ones where a registry answers, substitutes built here otherwise); the suites in
//           test/containers/ (docker compose, container faults) run too.
//   local   KAFKA_BROKERS, or a broker from scripts/kafka.mjs on KAFKA_TEST_PORT (default 19092, so it
//           never collides with `npm start` on 9092), and the PostgreSQL server of DATABASE_URL
//           (default postgres://postgres@127.0.0.1:5432/postgres); test/containers/ is left out.
//   auto    (default) docker when neither KAFKA_BROKERS nor DATABASE_URL is set and a Docker engine
//           answers `docker info`; local otherwise.
// Each test file creates its own database and its own Kafka topic prefix, and removes them after.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDeps } from './ensure-deps.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONTAINER_SUITES = 'test/containers/';
const log = (line) => process.stderr.write(`[test] ${line}\n`);

ensureDeps();

const env = { ...process.env };
const cleanups = [];
/** Runs (and forgets) the cleanups registered so far, newest first. */
async function cleanup() {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()();
    } catch (error) {
      log(`cleanup failed: ${error.message}`);
    }
  }
}
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => void cleanup().then(() => process.exit(130)));
}

function dockerAvailable() {
  const probe = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { stdio: 'pipe', timeout: 10000 });
  return probe.status === 0;
}

function choosePath() {
  const wanted = env.P2_TEST_SERVICES || 'auto';
  if (wanted === 'docker') {
    if (!dockerAvailable()) throw new Error('P2_TEST_SERVICES=docker, but no Docker engine answers `docker info`');
    return 'docker';
  }
  if (wanted === 'local') return 'local';
  if (wanted !== 'auto') throw new Error(`P2_TEST_SERVICES must be docker, local or auto, not "${wanted}"`);
  if (env.KAFKA_BROKERS || env.DATABASE_URL) return 'local';
  return dockerAvailable() ? 'docker' : 'local';
}

/** Removes whatever the container suites of this run left behind (a crashed jest, an interrupted run). */
function removeLeftovers(runId) {
  const list = (args) => spawnSync('docker', args, { encoding: 'utf8' }).stdout?.split('\n').filter(Boolean) ?? [];
  for (const filter of [`label=org.polyproto.test-run=${runId}`, `label=com.docker.compose.project=p2test${runId}`]) {
    const containers = list(['ps', '-aq', '--filter', filter]);
    if (containers.length > 0) spawnSync('docker', ['rm', '-f', '-v', ...containers], { stdio: 'ignore' });
    const networks = list(['network', 'ls', '-q', '--filter', filter]);
    if (networks.length > 0) spawnSync('docker', ['network', 'rm', ...networks], { stdio: 'ignore' });
    const volumes = list(['volume', 'ls', '-q', '--filter', filter]);
    if (volumes.length > 0) spawnSync('docker', ['volume', 'rm', '-f', ...volumes], { stdio: 'ignore' });
  }
}

async function provisionDocker() {
  // Ryuk (testcontainers' reaper) is an image of its own that may not be pullable; every container
  // here is stopped by the suite that started it, and leftovers are removed by label below.
  env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';
  process.env.TESTCONTAINERS_RYUK_DISABLED = env.TESTCONTAINERS_RYUK_DISABLED;
  const runId = randomBytes(4).toString('hex');
  env.P2_TEST_RUN = runId;
  cleanups.push(() => removeLeftovers(runId));
  const { ensureImages, imageEnv } = await import('./images.mjs');
  const images = await ensureImages();
  Object.assign(env, imageEnv(images));
  log(`Docker path: Kafka ${images.kafka}, PostgreSQL ${images.postgres} (testcontainers)`);
  const { startContainers } = await import('./testcontainers.mjs');
  const containers = await startContainers({ images, labels: { 'org.polyproto.test-run': runId } });
  cleanups.push(() => containers.stop());
  env.KAFKA_BROKERS = containers.kafkaBrokers;
  env.DATABASE_URL = containers.databaseUrl;
}

async function provisionLocal() {
  if (!env.KAFKA_BROKERS) {
    const { startKafka, stopKafka } = await import('./kafka.mjs');
    const port = Number(env.KAFKA_TEST_PORT ?? 19092);
    log(`starting a local Kafka broker on 127.0.0.1:${port}`);
    const kafka = await startKafka({ port, controllerPort: port + 1 });
    if (kafka.startedByUs) cleanups.push(() => stopKafka({ port }));
    env.KAFKA_BROKERS = kafka.brokers;
  }
  env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
}

async function provision() {
  const started = Date.now();
  let chosen = choosePath();
  if (chosen === 'docker') {
    try {
      await provisionDocker();
    } catch (error) {
      // chosen automatically: a machine whose engine cannot get the images still has the local path
      if (env.P2_TEST_SERVICES === 'docker') throw error;
      log(`the Docker path failed (${error.message.split('\n')[0]}); falling back to the local path (P2_TEST_SERVICES=docker to insist)`);
      await cleanup();
      chosen = 'local';
    }
  }
  if (chosen === 'local') await provisionLocal();
  log(`using Kafka at ${env.KAFKA_BROKERS}, PostgreSQL at ${env.DATABASE_URL.replace(/:[^:@/]*@/, ':***@')}`);
  log(`provisioned (${chosen} path) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return chosen;
}

/** Runs jest; once it has written its report it has up to EXIT_GRACE_MS to end on its own. */
const EXIT_GRACE_MS = 60_000;
function runJest(args, report) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: 'inherit' });
    let leaked = false;
    let reportSeenAt;
    const watch = setInterval(() => {
      if (reportSeenAt === undefined) {
        if (fs.existsSync(report)) reportSeenAt = Date.now();
        return;
      }
      if (Date.now() - reportSeenAt < EXIT_GRACE_MS) return;
      leaked = true;
      clearInterval(watch);
      const sockets = spawnSync('ss', ['-tnp'], { encoding: 'utf8' }).stdout?.split('\n').filter((line) => line.includes(`pid=${child.pid},`)) ?? [];
      log(`jest wrote its report but has not ended ${EXIT_GRACE_MS / 1000} s later: a suite left something open (a leak). Its TCP sockets:\n${sockets.join('\n') || '(none; a timer or another handle)'}`);
      child.kill('SIGKILL');
    }, 1000);
    child.on('exit', (code) => {
      clearInterval(watch);
      resolve(leaked ? 1 : (code ?? 1));
    });
  });
}

function run(command, args) {
  const result = spawnSync(command, args, { cwd: ROOT, env, stdio: 'inherit' });
  return result.status ?? 1;
}

let status = 1;
try {
  const chosen = await provision();
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  log('type check');
  status = run(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit']);
  if (status === 0) {
    log('lint');
    status = run(process.execPath, [path.join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js'), '.']);
  }
  if (status === 0) {
    // the layer rules of .dependency-cruiser.cjs (libs never import apps, pure libs import no
    // framework, read models through their public API, no cycles): a violation fails the run
    log('layer rules (dependency-cruiser)');
    status = run(process.execPath, [path.join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), 'apps', 'libs', 'bench', 'test', '--config', '.dependency-cruiser.cjs']);
  }
  if (status === 0) {
    const jest = path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
    const report = path.join(os.tmpdir(), `p2-jest-${process.pid}.json`);
    // (naming the patterns replaces jest's default, /node_modules/, so it is named again; they come
    // last because the option takes every argument after it)
    const leaveOut = chosen === 'docker' ? [] : ['--testPathIgnorePatterns', '/node_modules/', `/${CONTAINER_SUITES}`];
    if (chosen !== 'docker') log(`${CONTAINER_SUITES} (docker compose, container faults) left out: they need the Docker path (P2_TEST_SERVICES=docker)`);
    // On two cores jest runs the suites in its own process (one worker: in band), so a client a
    // suite leaves connected would keep the run from ending at all. A run whose report is written
    // but whose process does not end is a leak, and fails with the sockets jest still holds.
    status = await runJest([jest, '--ci', '--json', `--outputFile=${report}`, ...process.argv.slice(2), ...leaveOut], report);
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

#!/usr/bin/env node
// `npm start`: brings up the whole home server on this machine — Kafka (unless KAFKA_BROKERS is
// set), the database and its migrations, one certstore and one gateway — waits until the gateway's
// /healthz answers 200, prints the URL, and on Ctrl-C / SIGTERM stops everything it started.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { build, ensureDeps } from './ensure-deps.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const log = (line) => process.stdout.write(`[start] ${line}\n`);

ensureDeps();
build();
const { startKafka, stopKafka, ensureTopics } = await import('./kafka.mjs');

const env = { ...process.env };
// A .env file (git-ignored; see .env.example) fills in what the environment does not set.
const dotenv = path.join(ROOT, '.env');
if (fs.existsSync(dotenv)) {
  for (const line of fs.readFileSync(dotenv, 'utf8').split('\n')) {
    const match = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match && match[2] !== '' && env[match[1]] === undefined) env[match[1]] = match[2].replace(/^(['"])(.*)\1$/, '$2');
  }
}
env.PORT ??= '3000';
env.CERTSTORE_PORT ??= '3001';
let kafkaStartedByUs = false;
const kafkaPort = Number(env.KAFKA_PORT ?? 9092);
if (!env.KAFKA_BROKERS) {
  log(`starting Kafka on 127.0.0.1:${kafkaPort} (set KAFKA_BROKERS to use another broker)`);
  const kafka = await startKafka({ port: kafkaPort });
  kafkaStartedByUs = kafka.startedByUs;
  env.KAFKA_BROKERS = kafka.brokers;
} else {
  await ensureTopics(env.KAFKA_BROKERS, {}, env.P2_KAFKA_TOPIC_PREFIX ?? '');
}

const children = [];
let stopping = false;

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  for (const child of [...children].reverse()) {
    if (child.exitCode === null) child.kill('SIGTERM');
  }
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
  if (kafkaStartedByUs) await stopKafka({ port: kafkaPort });
  log('stopped');
  process.exit(code);
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

/** Once stopping has begun, the start sequence must not spawn anything more: stopAll exits. */
const halted = () => new Promise(() => {});

function runNode(name, script) {
  const child = spawn(process.execPath, ['-r', './scripts/register-paths.cjs', script], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping the rest`);
      void stopAll(1);
    }
  });
  return child;
}

async function waitHealthy(name, url, deadlineMs = 120000) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline && !stopping) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  if (!stopping) {
    log(`${name} did not become healthy at ${url} in time`);
    await stopAll(1);
  }
}

const migrate = spawnSync(process.execPath, ['-r', './scripts/register-paths.cjs', 'dist/apps/certstore/src/migrate.js'], { cwd: ROOT, env, stdio: 'inherit' });
if (migrate.status !== 0) {
  log('database migration failed');
  await stopAll(1);
}
if (stopping) await halted();
runNode('certstore', 'dist/apps/certstore/src/main.js');
await waitHealthy('certstore', `http://127.0.0.1:${env.CERTSTORE_PORT}/healthz`);
if (stopping) await halted();
runNode('gateway', 'dist/apps/gateway/src/main.js');
await waitHealthy('gateway', `http://127.0.0.1:${env.PORT}/healthz`);
if (stopping) await halted();
log(`polyproto home server for ${env.P2_DOMAIN ?? 'localhost'} is up: http://localhost:${env.PORT}  (API docs: http://localhost:${env.PORT}/docs)`);
log('press Ctrl-C to stop');

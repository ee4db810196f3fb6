#!/usr/bin/env node
// `npm start`: brings up the whole home server on this machine — Kafka (unless KAFKA_BROKERS is
// set), the database and its migrations, one certstore and one gateway — waits until the gateway's
// /healthz answers 200, prints the URL, and on Ctrl-C / SIGTERM / SIGHUP, or when the process that
// started it is gone, stops everything it started (gateway first, so that in-flight commands are
// answered). `npm start` runs it with `exec`, so that the SIGTERM npm forwards reaches this process
// (a shell in between would die of it and leave everything running).
import { build, ensureDeps } from './ensure-deps.mjs';

const log = (line) => process.stdout.write(`[start] ${line}\n`);

ensureDeps();
build();
const { applyDotEnv, createCluster } = await import('./cluster.mjs');
const { kafkaPorts } = await import('./kafka.mjs');

// into process.env too: scripts/kafka.mjs, which starts the broker in this process, reads its
// settings (topic prefix, partitions, JVM options, extra broker properties) from there
applyDotEnv(process.env);
const env = { ...process.env };
let kafka = {};
// with KAFKA_BROKERS set no broker is started, and KAFKA_PORT means nothing
if (!env.KAFKA_BROKERS) {
  try {
    kafka = kafkaPorts();
  } catch (error) {
    log(error.message);
    process.exit(2);
  }
}
let stopping = false;
const cluster = createCluster({
  env,
  kafka,
  log,
  onExit: (name, code) => {
    log(`${name} exited (${code}); stopping the rest`);
    void stopAll(1);
  },
});

async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  log('stopping…');
  await cluster.stop();
  log('stopped');
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => void stopAll(0));
// npm killed with SIGKILL forwards nothing: this process is then adopted by another one
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) {
    log(`the process that started this one (pid ${parent}) is gone`);
    void stopAll(0);
  }
}, 1000).unref();
try {
  await cluster.start();
  log(`polyproto home server for ${env.P2_DOMAIN ?? 'localhost'} is up: http://localhost:${env.PORT}  (API docs: http://localhost:${env.PORT}/docs)`);
  log('press Ctrl-C to stop');
} catch (error) {
  if (!stopping) {
    log(error.message);
    await stopAll(1);
  }
}

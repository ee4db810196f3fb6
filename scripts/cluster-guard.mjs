#!/usr/bin/env node
// Stops what a cluster of scripts/cluster.mjs started when the process that started it disappears
// without stopping it (SIGKILL, a crash, an out-of-memory kill): nothing of that process runs any
// more then, so it is this separate, detached process that notices. createCluster starts it with an
// IPC channel and tells it the pids of the apps ({app}) and the port of a broker it started
// ({kafka}); a clean stop ends with {stopped}. When the channel closes before that, the apps get
// SIGTERM (they drain in-flight commands, gateways before certstores), whatever is left after the
// grace period SIGKILL, and the broker is stopped.
import { stopKafka } from './kafka.mjs';

const GRACE_MS = 20_000;
const apps = [];
let kafka;
let stopped = false;

const log = (line) => {
  try {
    process.stderr.write(`[cluster-guard] ${line}\n`);
  } catch {
    // the terminal it wrote to may be gone with its owner
  }
};
process.stderr.on('error', () => {});
// only an explicit kill of this pid ends it early: a group signal meant for its owner is ignored
for (const signal of ['SIGINT', 'SIGHUP']) process.on(signal, () => {});

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};

/** Signals the app's process group (it was started detached, as a group of its own). */
function signal(pid, name) {
  try {
    process.kill(-pid, name);
  } catch {
    try {
      process.kill(pid, name);
    } catch {
      // already gone
    }
  }
}

async function stopApp({ pid, name }) {
  if (!alive(pid)) return;
  log(`its owner is gone: stopping ${name} (pid ${pid})`);
  signal(pid, 'SIGTERM');
  const deadline = Date.now() + GRACE_MS;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
  if (alive(pid)) signal(pid, 'SIGKILL');
}

process.on('message', (message) => {
  if (message.app) apps.push(message.app);
  if (message.kafka) kafka = message.kafka;
  if (message.stopped) {
    stopped = true;
    process.disconnect();
  }
});

process.on('disconnect', async () => {
  if (stopped) return;
  // gateways first, so that their in-flight commands are still answered by the certstores
  const order = (app) => (app.name.startsWith('gateway') ? 0 : 1);
  for (const app of [...apps].sort((a, b) => order(a) - order(b))) await stopApp(app);
  if (kafka) {
    log(`stopping the Kafka broker on port ${kafka.port}`);
    await stopKafka({ port: kafka.port, purge: kafka.purge ?? false, quiet: true }).catch((error) => log(`stopping Kafka: ${error.message}`));
  }
});

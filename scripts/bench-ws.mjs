#!/usr/bin/env node
// npm run bench:ws — holds many idle WebSocket connections on one gateway and measures
//   - the gateway process's memory per connection (RSS before and after, from /proc), and
//   - the fan-out time of one event to all of them: a sign-in of a new session of the actor whose
//     sessions the sockets identified as, timed from the sign-in's HTTP reply to the first and the
//     last NEW_SESSION (op 3) arriving on the sockets.
//
// Faithful shortcut: opening a session costs one scrypt run, so the sockets share BENCH_WS_SESSIONS
// sessions of one actor (BENCH_WS_CONNECTIONS / BENCH_WS_SESSIONS sockets each). The gateway does the
// same work per socket as for distinct sessions except the inbox read, which it makes once per
// session and event (so the read cost of the fan-out is that of BENCH_WS_SESSIONS sessions).
//
// Needs KAFKA_BROKERS (e.g. `npm run kafka -- start`, then KAFKA_BROKERS=127.0.0.1:9092) and the
// PostgreSQL server of DATABASE_URL; creates a database and topics of its own and removes them.
// The client side of 10,000 sockets runs in this process, so it needs ~10,100 file descriptors:
// the script raises its soft `ulimit -n` up to the hard limit by re-executing itself under bash.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { ensureTopics } from './kafka.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const CONNECTIONS = Number(process.env.BENCH_WS_CONNECTIONS ?? 10000);
const SESSIONS = Number(process.env.BENCH_WS_SESSIONS ?? 100);
const ROUNDS = Number(process.env.BENCH_WS_ROUNDS ?? 3);
const PASSWORD = 'bench password, not a secret';

const log = (message) => process.stdout.write(`[bench:ws] ${message}\n`);

// ---- file descriptors ------------------------------------------------------------------------
const fdLimit = Number(spawnSync('bash', ['-c', 'ulimit -n'], { encoding: 'utf8' }).stdout.trim());
const fdNeeded = CONNECTIONS + 500;
if (fdLimit < fdNeeded && !process.env.BENCH_WS_REEXEC) {
  const hard = spawnSync('bash', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).stdout.trim();
  if (hard !== 'unlimited' && Number(hard) < fdNeeded) {
    log(`needs ${fdNeeded} file descriptors; the hard limit is ${hard} (raise it, e.g. in /etc/security/limits.conf)`);
    process.exit(1);
  }
  log(`raising ulimit -n from ${fdLimit} to ${fdNeeded}`);
  const child = spawnSync('bash', ['-c', `ulimit -n ${fdNeeded} && exec "$0" "$@"`, process.execPath, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_WS_REEXEC: '1' },
  });
  process.exit(child.status ?? 1);
}

if (!process.env.KAFKA_BROKERS) {
  log('KAFKA_BROKERS is not set (start a broker with `npm run kafka -- start` and point KAFKA_BROKERS at it)');
  process.exit(1);
}

// the compiled libraries (npm run bench:ws builds first)
require(join(ROOT, 'scripts/register-paths.cjs'));
const { buildIdCsr, ed25519SignerFromPrivateKey } = require(join(ROOT, 'dist/libs/polyproto/src'));
const { dropDatabase, gatewayDatabaseUrl } = require(join(ROOT, 'dist/libs/platform/src/database.js'));
const { environmentOf } = require(join(ROOT, 'dist/libs/config/src/process-env.js'));
const { default: WebSocket } = await import('ws');
const { generateKeyPairSync } = await import('node:crypto');

const tag = randomBytes(4).toString('hex');
const baseDbUrl = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/polyproto');
const dbName = `p2_bench_ws_${tag}`;
const dbUrl = new URL(baseDbUrl);
dbUrl.pathname = `/${dbName}`;
const prefix = `bench-ws-${tag}.`;
const children = [];

async function freePort() {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function startApp(name, script, env) {
  const child = spawn(process.execPath, ['-r', './scripts/register-paths.cjs', script], { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(child);
  child.once('exit', (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code})`);
      void cleanup(1);
    }
  });
  return child;
}

async function waitHealthy(url) {
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url, { signal: AbortSignal.timeout(2000) })).status === 200) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${url} did not become healthy`);
}

function rssKiB(pid) {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
}

async function settledRss(pid) {
  // RSS moves with the garbage collector; take the lowest of a few samples a second apart
  let lowest = Infinity;
  for (let i = 0; i < 5; i++) {
    lowest = Math.min(lowest, rssKiB(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  return lowest;
}

let stopping = false;
const sockets = [];
async function cleanup(code) {
  if (stopping) return;
  stopping = true;
  for (const socket of sockets) socket.terminate();
  for (const child of children) child.kill('SIGTERM');
  await Promise.all(children.map((c) => (c.exitCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
  try {
    const { Kafka, logLevel } = await import('kafkajs').then((m) => m.default ?? m);
    const admin = new Kafka({ clientId: 'p2-bench-ws', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics });
    await admin.disconnect();
  } catch (error) {
    log(`could not delete the topics ${prefix}*: ${error.message}`);
  }
  try {
    // the database and its gateway role
    await dropDatabase(dbUrl.toString());
  } catch (error) {
    log(`could not drop the database ${dbName}: ${error.message}`);
  }
  process.exit(code);
}
process.on('SIGINT', () => void cleanup(130));

async function http(method, url, body, headers = {}) {
  const res = await fetch(url, { method, headers: { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

function csrFor(sessionId) {
  const { privateKey } = generateKeyPairSync('ed25519');
  return buildIdCsr({ signer: ed25519SignerFromPrivateKey(privateKey), federationId: 'bench@localhost', sessionId }).pem;
}

async function inParallel(count, limit, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, count) }, async () => {
      while (next < count) await work(next++);
    }),
  );
}

try {
  await ensureTopics(process.env.KAFKA_BROKERS, {}, prefix);
  const [port, certstorePort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    PORT: String(port),
    CERTSTORE_PORT: String(certstorePort),
    DATABASE_URL: dbUrl.toString(),
    P2_KAFKA_TOPIC_PREFIX: prefix,
    P2_DOMAIN: 'localhost',
    P2_KEY_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    P2_TOKEN_KEY: randomBytes(32).toString('hex'),
    P2_CHALLENGE_KEY: randomBytes(32).toString('hex'),
    LOG_LEVEL: 'warn',
    // idle sockets: no heartbeat falls due during the run
    P2_WS_HEARTBEAT_INTERVAL_MS: '600000',
    P2_WS_IDENTIFY_TIMEOUT_MS: '120000',
    // the migrations give it to the gateway's role (a PostgreSQL that asks for passwords needs one)
    P2_GATEWAY_DB_PASSWORD: randomBytes(24).toString('hex'),
  };
  // each process with the secrets of its role only (docs/architecture.md#secrets)
  spawnSync(process.execPath, ['-r', './scripts/register-paths.cjs', 'dist/apps/certstore/src/migrate.js'], { cwd: ROOT, env: environmentOf(env, 'migrate'), stdio: 'inherit' });
  startApp('certstore', 'dist/apps/certstore/src/main.js', environmentOf(env, 'certstore'));
  await waitHealthy(`http://127.0.0.1:${certstorePort}/healthz`);
  // the gateway as in production: its read-only database role (docs/architecture.md#database-roles)
  const gateway = startApp('gateway', 'dist/apps/gateway/src/main.js', { ...environmentOf(env, 'gateway'), DATABASE_URL: gatewayDatabaseUrl(dbUrl.toString(), env.P2_GATEWAY_DB_PASSWORD) });
  const base = `http://127.0.0.1:${port}`;
  await waitHealthy(`${base}/healthz`);
  log(`gateway pid ${gateway.pid} on ${base}; ${CONNECTIONS} sockets over ${SESSIONS} sessions of one actor`);

  if ((await http('POST', `${base}/.p2/core/v1/register`, { actor_name: 'bench', auth_payload: { password: PASSWORD } })).status !== 201) throw new Error('register failed');
  const tokens = [];
  await inParallel(SESSIONS, 4, async (i) => {
    const res = await http('POST', `${base}/.p2/core/v1/session/trust`, { actor_name: 'bench', csr: csrFor(`s${i}`), auth_payload: { password: PASSWORD } });
    if (res.status !== 201) throw new Error(`sign-in failed: ${res.status} ${JSON.stringify(res.body)}`);
    tokens[i] = res.body.token;
  });

  // every sign-in queued a NEW_SESSION for the sessions before it: fetch those backlogs away, so the
  // sockets start idle
  for (const token of tokens) {
    while ((await http('GET', `${base}/.p2/core/v1/events`, undefined, { authorization: `Bearer ${token}` })).status === 200);
  }

  const before = await settledRss(gateway.pid);
  const arrivals = [];
  const opened = performance.now();
  await inParallel(CONNECTIONS, 200, async (i) => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/.p2/core/v1/gateway`);
    sockets.push(socket);
    await new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('close', (code) => reject(new Error(`socket ${i} closed with ${code}`)));
      socket.on('message', (data) => {
        const message = JSON.parse(data.toString());
        if (message.op === 1) {
          socket.send(JSON.stringify({ n: 'core', op: 2, d: { token: tokens[i % SESSIONS] } }));
          socket.send(JSON.stringify({ n: 'core', op: 0, d: { from: '0', to: '0' } }));
        } else if (message.op === 7) resolve();
        else if (message.op === 3) arrivals.push(performance.now());
      });
    });
  });
  log(`${CONNECTIONS} sockets identified in ${((performance.now() - opened) / 1000).toFixed(1)} s`);
  const after = await settledRss(gateway.pid);
  log(`gateway RSS ${(before / 1024).toFixed(1)} MiB before, ${(after / 1024).toFixed(1)} MiB with ${CONNECTIONS} sockets: ${(((after - before) * 1024) / CONNECTIONS / 1024).toFixed(1)} KiB per connection`);

  for (let round = 1; round <= ROUNDS; round++) {
    arrivals.length = 0;
    const csr = csrFor(`fanout-${round}`);
    const sent = performance.now();
    const res = await http('POST', `${base}/.p2/core/v1/session/trust`, { actor_name: 'bench', csr, auth_payload: { password: PASSWORD } });
    const replied = performance.now();
    if (res.status !== 201) throw new Error(`sign-in failed: ${res.status}`);
    const deadline = Date.now() + 60000;
    while (arrivals.length < CONNECTIONS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    if (arrivals.length < CONNECTIONS) throw new Error(`only ${arrivals.length} of ${CONNECTIONS} sockets got the NEW_SESSION within 60 s`);
    const first = Math.min(...arrivals) - replied;
    const last = Math.max(...arrivals) - replied;
    log(
      `fan-out ${round}: sign-in reply after ${(replied - sent).toFixed(0)} ms; NEW_SESSION on all ${CONNECTIONS} sockets: first ${first.toFixed(0)} ms, last ${last.toFixed(0)} ms after the reply`,
    );
    // the sockets confirm nothing, so the items stay queued; the next round's reads start after them
  }
  await cleanup(0);
} catch (error) {
  log(`failed: ${error.stack ?? error}`);
  await cleanup(1);
}

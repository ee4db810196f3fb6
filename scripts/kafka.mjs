#!/usr/bin/env node
// Provisions a real, single-node Apache Kafka (KRaft, combined broker+controller) for development,
// tests and CI, without Docker and without a Kafka package: the broker's jars come from Maven
// Central (see shared infra notes) and are cached in .cache/kafka/<version>/lib.
//
//   node scripts/kafka.mjs fetch                 resolve the jars (skips Maven when cached)
//   node scripts/kafka.mjs start                 start (or reuse) a broker, create the topics;
//                                                last stdout line: KAFKA_BROKERS=127.0.0.1:<port>
//   node scripts/kafka.mjs stop [--purge]        stop the broker this script started (--purge: delete its run dir)
//   node scripts/kafka.mjs status                state of every broker under .run/ (exit 1 if KAFKA_PORT's is down)
//   node scripts/kafka.mjs create-topics         create the project's topics on $KAFKA_BROKERS (any broker)
//
// Environment: KAFKA_VERSION (default 4.1.2), P2_CACHE_DIR (default .cache; jars in <it>/kafka), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1),
// KAFKA_BROKERS (create-topics only), KAFKA_REPLICATION_FACTOR (brokers, at most 3), P2_COMMAND_PARTITIONS (12), P2_REPLY_PARTITIONS (4),
// P2_EVENT_PARTITIONS (12), P2_AUDIT_PARTITIONS (3), P2_KAFKA_TOPIC_PREFIX (none), KAFKA_START_TIMEOUT_MS (120000), KAFKA_AUTO_CREATE_TOPICS (false),
// JAVA_HOME (optional), KAFKA_JAVA_OPTS (extra JVM options, space separated; one naming a collector replaces ours),
// KAFKA_EXTRA_PROPERTIES (extra server.properties lines as key=value, space separated; they override ours).
//
// Also importable: startKafka, stopKafka, ensureTopics, deleteTopics, fetchKafka, kafkaStatus, topicSpecs, topicReplication, dependencyList.
// Only node: builtins are used, plus kafkajs (loaded lazily, only for the topic step).

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SCRIPT = fileURLToPath(import.meta.url);
export const ROOT = path.resolve(path.dirname(SCRIPT), '..');
// P2_CACHE_DIR moves the cache out of the checkout (CI keeps it between fresh clones). Read when
// used, not at import: `npm start` and `npm run bench` import this module before they apply .env.
const cacheDir = () =>
  path.join(process.env.P2_CACHE_DIR ? path.resolve(process.env.P2_CACHE_DIR) : path.join(ROOT, '.cache'), 'kafka');
const RUN_ROOT = path.join(ROOT, '.run');

export const DEFAULT_KAFKA_VERSION = '4.1.2';
const SLF4J_VERSION = '1.7.36';
const LOG4J_VERSION = '2.24.3';
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';
const HOST = '127.0.0.1';
// The broker's thread pools and garbage collector threads, by the cores of this machine.
const CORES = os.availableParallelism();
const BROKER_THREADS = { network: Math.max(1, Math.floor(CORES / 2)), io: Math.max(2, CORES) };
// Logged by KafkaRaftServer (KafkaBroker.STARTED_MESSAGE) once broker and controller are up.
const STARTED_MARKER = 'Kafka Server started';
const STOP_GRACE_MS = 30_000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let quietLogs = false;
function info(msg) {
  if (!quietLogs) process.stderr.write(`[kafka] ${msg}\n`);
}

class KafkaScriptError extends Error {}

// ---------------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------------

/** `raw` (the value of the variable `name`) as a positive integer; undefined when unset or empty. */
function positiveInt(name, raw) {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new KafkaScriptError(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

function intEnv(name, fallback) {
  return positiveInt(name, process.env[name]) ?? fallback;
}

/**
 * How many copies of each topic to ask for, on a cluster of `brokerCount` brokers:
 * KAFKA_REPLICATION_FACTOR when set, else up to 3. A cluster of one broker gets one copy (the
 * broker this script starts, compose's); a production cluster gets three without being told, since
 * a command or an event on one broker only is lost with that broker. With three copies or more a
 * produce (the apps ask every in-sync copy to acknowledge) needs two of them, so no acknowledged
 * write lives on one broker while another may be down; below three the broker's own default stays.
 */
export function topicReplication(brokerCount, raw = process.env.KAFKA_REPLICATION_FACTOR) {
  const requested = positiveInt('KAFKA_REPLICATION_FACTOR', raw);
  if (requested > brokerCount) {
    throw new KafkaScriptError(`KAFKA_REPLICATION_FACTOR=${requested}, but the cluster has ${brokerCount} broker${brokerCount === 1 ? '' : 's'}: at most ${brokerCount} copies`);
  }
  const replicationFactor = requested ?? Math.min(3, brokerCount);
  return { replicationFactor, minInSyncReplicas: replicationFactor >= 3 ? 2 : undefined };
}

function kafkaVersion() {
  const v = process.env.KAFKA_VERSION || DEFAULT_KAFKA_VERSION;
  if (!/^[0-9]+\.[0-9]+\.[0-9]+$/.test(v)) throw new KafkaScriptError(`KAFKA_VERSION must look like 4.1.2, got "${v}"`);
  if (Number(v.split('.')[0]) < 4) throw new KafkaScriptError(`KAFKA_VERSION ${v}: this script provisions Kafka 4.x (KRaft, log4j2)`);
  return v;
}

/** The broker's ports from KAFKA_PORT and KAFKA_CONTROLLER_PORT (9092 and the next one when unset
 * or empty), checked as `start` checks them: what `npm start` starts a broker on. */
export function kafkaPorts() {
  return resolvePorts();
}

function resolvePorts({ port, controllerPort } = {}) {
  const p = port ?? intEnv('KAFKA_PORT', 9092);
  const c = controllerPort ?? (process.env.KAFKA_CONTROLLER_PORT ? intEnv('KAFKA_CONTROLLER_PORT') : p + 1);
  for (const [name, v] of [['port', p], ['controller port', c]]) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) throw new KafkaScriptError(`invalid Kafka ${name}: ${v}`);
  }
  if (p === c) throw new KafkaScriptError(`Kafka port and controller port must differ (both ${p})`);
  return { port: p, controllerPort: c };
}

// as TOPIC_RETENTION_MS in libs/contracts/src/topics.ts
const TELEMETRY_RETENTION_MS = 60 * 60 * 1000;
const AUDIT_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

function topicPrefix(prefix) {
  const p = prefix ?? process.env.P2_KAFKA_TOPIC_PREFIX ?? '';
  if (!/^[a-zA-Z0-9._-]*$/.test(p)) throw new KafkaScriptError('P2_KAFKA_TOPIC_PREFIX may only contain [a-zA-Z0-9._-]');
  return p;
}

/**
 * The project's topics (names as in libs/contracts/src/topics.ts, each preceded by `prefix`, default
 * P2_KAFKA_TOPIC_PREFIX). `partitions` overrides the env/defaults: {commands, replies, events, audit}.
 * The operational topics have a retention of their own (`configEntries`): telemetry snapshots are
 * looked at live (1 hour), audit entries are evidence (30 days); the others keep the broker's default.
 */
export function topicSpecs(partitions = {}, prefix) {
  const pre = topicPrefix(prefix);
  const commands = partitions.commands ?? intEnv('P2_COMMAND_PARTITIONS', 12);
  const replies = partitions.replies ?? intEnv('P2_REPLY_PARTITIONS', 4);
  const events = partitions.events ?? intEnv('P2_EVENT_PARTITIONS', 12);
  return [
    { topic: `${pre}p2.core.commands.v1`, numPartitions: commands },
    { topic: `${pre}p2.core.replies.v1`, numPartitions: replies },
    { topic: `${pre}p2.core.events.v1`, numPartitions: events },
    { topic: `${pre}p2.core.commands.v1.dlq`, numPartitions: partitions.dlq ?? 1 },
    { topic: `${pre}p2.core.telemetry.v1`, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(TELEMETRY_RETENTION_MS) }] },
    {
      topic: `${pre}p2.core.audit.v1`,
      numPartitions: partitions.audit ?? intEnv('P2_AUDIT_PARTITIONS', 3),
      configEntries: [{ name: 'retention.ms', value: String(AUDIT_RETENTION_MS) }],
    },
  ];
}

function runPaths(port) {
  const dir = path.join(RUN_ROOT, `kafka-${port}`);
  return {
    dir,
    data: path.join(dir, 'data'),
    props: path.join(dir, 'server.properties'),
    log4j: path.join(dir, 'log4j2.xml'),
    log: path.join(dir, 'kafka.log'),
    out: path.join(dir, 'kafka.out'), // JVM stdout/stderr (crashes before log4j is up)
    pid: path.join(dir, 'kafka.pid'),
    state: path.join(dir, 'state.json'),
    clusterId: path.join(dir, 'cluster-id'),
    lock: path.join(RUN_ROOT, `kafka-${port}.lock`),
  };
}

function javaBin() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

// ---------------------------------------------------------------------------------------------
// small helpers: locks, processes, ports, logs
// ---------------------------------------------------------------------------------------------

/** Cross-process mutex (mkdir is atomic); stale locks of dead processes are broken. */
async function withLock(lockDir, what, fn, timeoutMs = 20 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  fs.mkdirSync(path.dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let owner = NaN;
      try {
        owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8'));
      } catch {
        // pid not written yet (or the owner died between mkdir and write): judge by age
        try {
          if (Date.now() - fs.statSync(lockDir).mtimeMs > 30_000) owner = -1;
        } catch {
          continue; // lock vanished meanwhile
        }
      }
      if (owner === -1 || (Number.isInteger(owner) && owner > 0 && !isAlive(owner))) {
        fs.rmSync(lockDir, { recursive: true, force: true });
        continue;
      }
      if (!announced) {
        info(`waiting for another process (${what}, pid ${Number.isNaN(owner) ? '?' : owner})`);
        announced = true;
      }
      if (Date.now() > deadline) throw new KafkaScriptError(`timed out waiting for lock ${lockDir}`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

/** Alive and not a zombie. */
function isAlive(pid) {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch (err) {
    if (err.code !== 'ENOENT' || fs.existsSync('/proc/self/stat')) return false;
  }
  // no procfs (e.g. macOS)
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === 'EPERM';
  }
  const r = spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' });
  return r.status === 0 && !r.stdout.trim().startsWith('Z');
}

function commandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    if (fs.existsSync('/proc/self/cmdline')) return [];
  }
  const r = spawnSync('ps', ['-ww', '-o', 'command=', '-p', String(pid)], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim().split(/\s+/) : [];
}

/** Is `pid` the broker that this script started for run dir `paths`? */
function isOurBroker(pid, paths) {
  if (!isAlive(pid)) return false;
  const args = commandLine(pid);
  return args.includes('kafka.Kafka') && args.includes(paths.props);
}

function readPid(paths) {
  try {
    const n = Number(fs.readFileSync(paths.pid, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

function readState(paths) {
  try {
    return JSON.parse(fs.readFileSync(paths.state, 'utf8'));
  } catch {
    return null;
  }
}

function canConnect(port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: HOST, port });
    const done = (ok) => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function canBind(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: HOST, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function portFree(port) {
  return !(await canConnect(port, 500)) && (await canBind(port));
}

/** Incremental scan of a log file (from a byte offset) for a marker line. */
function logWatcher(file, offset) {
  let pos = offset;
  let carry = '';
  return () => {
    let fd;
    try {
      fd = fs.openSync(file, 'r');
    } catch {
      return false;
    }
    try {
      const size = fs.fstatSync(fd).size;
      if (size < pos) pos = 0; // truncated / replaced
      while (pos < size) {
        const buf = Buffer.alloc(Math.min(size - pos, 1 << 20));
        const n = fs.readSync(fd, buf, 0, buf.length, pos);
        if (n <= 0) break;
        pos += n;
        const text = carry + buf.toString('utf8', 0, n);
        if (text.includes(STARTED_MARKER)) return true;
        carry = text.slice(-STARTED_MARKER.length);
      }
      return false;
    } finally {
      fs.closeSync(fd);
    }
  };
}

function tail(file, lines, fromOffset = 0) {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const start = Math.max(fromOffset > size ? 0 : fromOffset, size - 256 * 1024);
      const buf = Buffer.alloc(size - start);
      fs.readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8').split('\n').slice(-lines - 1).join('\n').trimEnd();
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

function printFailureTail(paths, logOffset = 0, outOffset = 0) {
  const log = tail(paths.log, 60, logOffset);
  const out = tail(paths.out, 30, outOffset);
  if (log) process.stderr.write(`----- tail of ${path.relative(ROOT, paths.log)} -----\n${log}\n`);
  if (out) process.stderr.write(`----- tail of ${path.relative(ROOT, paths.out)} -----\n${out}\n`);
  if (!log && !out) process.stderr.write('(the Kafka log is empty)\n');
  process.stderr.write('-----\n');
}

async function waitForExit(pid, ms) {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

async function terminate(pid, graceMs = STOP_GRACE_MS) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    if (err.code === 'ESRCH') return 'gone';
    throw err;
  }
  if (await waitForExit(pid, graceMs)) return 'SIGTERM';
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    if (err.code !== 'ESRCH') throw err;
  }
  await waitForExit(pid, 10_000);
  return 'SIGKILL';
}

// ---------------------------------------------------------------------------------------------
// fetch
// ---------------------------------------------------------------------------------------------

/** Maven coordinates [group, artifact, version] of the broker and its logging backend. */
export function dependencyList(version = kafkaVersion()) {
  return [
    ['org.apache.kafka', 'kafka_2.13', version],
    ['org.slf4j', 'slf4j-api', SLF4J_VERSION],
    ['org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION],
    ['org.apache.logging.log4j', 'log4j-core', LOG4J_VERSION],
    ['org.apache.logging.log4j', 'log4j-api', LOG4J_VERSION],
  ];
}

function pomXml(version) {
  const deps = dependencyList(version)
    .map(
      ([g, a, v]) =>
        `    <dependency>\n      <groupId>${g}</groupId>\n      <artifactId>${a}</artifactId>\n      <version>${v}</version>\n    </dependency>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/kafka.mjs: the Kafka broker and a logging backend, for copy-dependencies -->
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 https://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.p2</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
${deps}
  </dependencies>
</project>
`;
}

function libPaths(version) {
  const dir = path.join(cacheDir(), version);
  return { dir, lib: path.join(dir, 'lib'), marker: path.join(dir, '.complete'), pom: path.join(dir, 'pom.xml') };
}

function fetchComplete(p, version) {
  try {
    const marker = JSON.parse(fs.readFileSync(p.marker, 'utf8'));
    return (
      JSON.stringify(marker.dependencies) === JSON.stringify(dependencyList(version)) &&
      fs.existsSync(path.join(p.lib, `kafka_2.13-${version}.jar`))
    );
  } catch {
    return false;
  }
}

/** Resolve Kafka + logging backend jars into .cache/kafka/<version>/lib. Returns {version, lib, fetched}. */
export async function fetchKafka({ quiet } = {}) {
  const prevQuiet = quietLogs;
  if (quiet !== undefined) quietLogs = quiet;
  try {
    const version = kafkaVersion();
    const p = libPaths(version);
    if (fetchComplete(p, version)) return { version, lib: p.lib, fetched: false };
    return await withLock(`${p.dir}.lock`, `fetching Kafka ${version}`, async () => {
      if (fetchComplete(p, version)) return { version, lib: p.lib, fetched: false };
      const mvn = spawnSync('mvn', ['-v'], { stdio: 'ignore' });
      if (mvn.error || mvn.status !== 0) throw new KafkaScriptError('Maven (mvn) is required to fetch Kafka from Maven Central');
      fs.mkdirSync(p.dir, { recursive: true });
      fs.rmSync(p.marker, { force: true });
      fs.writeFileSync(p.pom, pomXml(version));
      const tmpLib = `${p.lib}.tmp`;
      fs.rmSync(tmpLib, { recursive: true, force: true });
      const started = Date.now();
      info(`fetching Kafka ${version} (+ slf4j ${SLF4J_VERSION}, log4j ${LOG4J_VERSION}) from Maven Central into ${path.relative(ROOT, p.lib)} ...`);
      const args = [
        '-B',
        '-q',
        '-f',
        p.pom,
        `-Dmaven.repo.local=${path.join(cacheDir(), 'm2')}`,
        `${DEPENDENCY_PLUGIN}:copy-dependencies`,
        `-DoutputDirectory=${tmpLib}`,
        '-DincludeScope=runtime',
      ];
      const r = spawnSync('mvn', args, { cwd: p.dir, encoding: 'utf8', maxBuffer: 64 << 20 });
      if (r.status !== 0) {
        process.stderr.write(`${r.stdout || ''}${r.stderr || ''}`);
        throw new KafkaScriptError(`mvn copy-dependencies failed (exit ${r.status ?? r.signal ?? r.error?.message})`);
      }
      if (!fs.existsSync(path.join(tmpLib, `kafka_2.13-${version}.jar`))) {
        throw new KafkaScriptError(`mvn finished but ${tmpLib} has no kafka_2.13-${version}.jar`);
      }
      fs.rmSync(p.lib, { recursive: true, force: true });
      fs.renameSync(tmpLib, p.lib);
      const jars = fs.readdirSync(p.lib).filter((f) => f.endsWith('.jar'));
      fs.writeFileSync(
        p.marker,
        JSON.stringify({ dependencies: dependencyList(version), jars: jars.length, fetchedAt: new Date().toISOString() }, null, 2),
      );
      info(`fetched ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return { version, lib: p.lib, fetched: true };
    });
  } finally {
    quietLogs = prevQuiet;
  }
}

// ---------------------------------------------------------------------------------------------
// start
// ---------------------------------------------------------------------------------------------

function serverProperties({ port, controllerPort }, paths) {
  const autoCreate = /^(1|true|yes)$/i.test(process.env.KAFKA_AUTO_CREATE_TOPICS || '') ? 'true' : 'false';
  return `# generated by scripts/kafka.mjs (rewritten on every start) -- single-node KRaft, small and fast
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@${HOST}:${controllerPort}
listeners=PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}
advertised.listeners=PLAINTEXT://${HOST}:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=${paths.data}
num.partitions=12
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.cleaner.dedupe.buffer.size=16777216
# topics are created explicitly (scripts/kafka.mjs ensureTopics): a typo in a topic name fails loudly
auto.create.topics.enable=${autoCreate}
delete.topic.enable=true
# threads sized to the machine, not Kafka's defaults of 3 network and 8 I/O threads: on a small host
# that shares its cores with the apps and PostgreSQL the broker then costs less CPU per write
# (docs/benchmarks.md#broker-threads)
num.network.threads=${BROKER_THREADS.network}
num.io.threads=${BROKER_THREADS.io}
background.threads=${BROKER_THREADS.io}
# KAFKA_EXTRA_PROPERTIES (space separated key=value); a key given twice takes its last value
${(process.env.KAFKA_EXTRA_PROPERTIES || '').split(/\s+/).filter(Boolean).join('\n')}
`;
}

function log4jXml(paths) {
  const file = paths.log.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- generated by scripts/kafka.mjs -->
<Configuration status="WARN">
  <Appenders>
    <File name="file" fileName="${file}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="kafka.authorizer.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.clients" level="WARN"/>
    <Root level="INFO">
      <AppenderRef ref="file"/>
    </Root>
  </Loggers>
</Configuration>
`;
}

function clusterId(paths) {
  try {
    const id = fs.readFileSync(paths.clusterId, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{22}$/.test(id)) return id;
  } catch {
    // generate below
  }
  let id;
  do {
    id = randomBytes(16).toString('base64url'); // a Kafka Uuid: 16 random bytes, base64url, no padding
  } while (id.startsWith('-') || id === 'AAAAAAAAAAAAAAAAAAAAAA' || id === 'AAAAAAAAAAAAAAAAAAAAAQ');
  fs.writeFileSync(paths.clusterId, `${id}\n`);
  return id;
}

function formatStorage(lib, paths, env) {
  const id = clusterId(paths);
  if (fs.existsSync(path.join(paths.data, 'meta.properties'))) return; // formatted on an earlier start
  info(`formatting storage (cluster id ${id})`);
  const r = spawnSync(
    javaBin(),
    [
      `-Dlog4j2.configurationFile=${paths.log4j}`,
      '-cp',
      path.join(lib, '*'),
      'kafka.tools.StorageTool',
      'format',
      '-t',
      id,
      '-c',
      paths.props,
      '--ignore-formatted',
    ],
    { encoding: 'utf8', cwd: paths.dir, env, maxBuffer: 16 << 20 },
  );
  if (r.error) throw new KafkaScriptError(`cannot run ${javaBin()}: ${r.error.message} (Kafka 4.x needs Java 17+)`);
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}${r.stderr}`);
    throw new KafkaScriptError(`kafka.tools.StorageTool format failed (exit ${r.status ?? r.signal})`);
  }
}

/**
 * Start a local broker (or reuse the one this script started earlier on the same ports), wait until
 * it is ready and make sure the project's topics exist. `env`: the environment of the broker's JVM
 * (default this process's); a script that holds the apps' secrets passes one without them (the
 * broker reads none, and a JVM's environment is readable in /proc by its user).
 * Returns {brokers, startedByUs, pid, port, controllerPort, runDir, logFile}.
 */
export async function startKafka({ port, controllerPort, quiet, partitions, topicPrefix: prefix, env = process.env } = {}) {
  const prevQuiet = quietLogs;
  if (quiet !== undefined) quietLogs = quiet;
  try {
    const ports = resolvePorts({ port, controllerPort });
    const paths = runPaths(ports.port);
    const brokers = `${HOST}:${ports.port}`;
    const result = await withLock(paths.lock, `starting Kafka on ${ports.port}`, () => startLocked(ports, paths, brokers, env));
    try {
      await ensureTopics(brokers, partitions, prefix);
    } catch (err) {
      if (result.startedByUs) {
        printFailureTail(paths, result.logOffset);
        await stopKafka({ port: ports.port, quiet: true });
      }
      throw err;
    }
    info(`ready: ${brokers} (pid ${result.pid}, log ${path.relative(ROOT, paths.log)})`);
    return {
      brokers,
      ...ports,
      startedByUs: result.startedByUs,
      pid: result.pid,
      runDir: paths.dir,
      logFile: paths.log,
    };
  } finally {
    quietLogs = prevQuiet;
  }
}

async function startLocked(ports, paths, brokers, env) {
  const timeoutMs = intEnv('KAFKA_START_TIMEOUT_MS', 120_000);

  // 1. a broker we started earlier?
  const oldPid = readPid(paths);
  if (oldPid !== null) {
    if (isOurBroker(oldPid, paths)) {
      const state = readState(paths) || {};
      if (state.port !== ports.port || state.controllerPort !== ports.controllerPort) {
        throw new KafkaScriptError(
          `a broker started by this script (pid ${oldPid}) runs in ${path.relative(ROOT, paths.dir)} with ` +
            `ports ${state.port}/${state.controllerPort}, not ${ports.port}/${ports.controllerPort}; ` +
            `stop it first: KAFKA_PORT=${ports.port} node scripts/kafka.mjs stop`,
        );
      }
      info(`reusing the Kafka broker started earlier (pid ${oldPid}) on ${brokers}`);
      await waitReady({ pid: oldPid, ports, paths, logOffset: state.logOffset ?? 0, timeoutMs });
      return { startedByUs: false, pid: oldPid, logOffset: state.logOffset ?? 0 };
    }
    info(`removing stale pid file (pid ${oldPid} is not our broker)`);
    fs.rmSync(paths.pid, { force: true });
  }

  // 2. the ports must be free
  for (const [what, p] of [
    ['Kafka port (KAFKA_PORT)', ports.port],
    ['controller port (KAFKA_CONTROLLER_PORT)', ports.controllerPort],
  ]) {
    if (!(await portFree(p))) {
      throw new KafkaScriptError(
        `${what} ${HOST}:${p} is already in use by another process; free it or choose other ports, ` +
          `e.g. KAFKA_PORT=<port> [KAFKA_CONTROLLER_PORT=<port+1>] node scripts/kafka.mjs start ` +
          `(an external broker can be used with KAFKA_BROKERS=host:port node scripts/kafka.mjs create-topics)`,
      );
    }
  }

  // 3. jars, config, storage
  const { lib, version } = await fetchKafka();
  fs.mkdirSync(paths.data, { recursive: true });
  fs.writeFileSync(paths.props, serverProperties(ports, paths));
  fs.writeFileSync(paths.log4j, log4jXml(paths));
  formatStorage(lib, paths, env);

  // 4. launch, detached, so that this script may exit while the broker keeps running
  const logOffset = fs.existsSync(paths.log) ? fs.statSync(paths.log).size : 0;
  const outOffset = fs.existsSync(paths.out) ? fs.statSync(paths.out).size : 0;
  const outFd = fs.openSync(paths.out, 'a');
  const extra = (process.env.KAFKA_JAVA_OPTS || '').split(/\s+/).filter(Boolean);
  const args = [
    '-Xms256m',
    '-Xmx512m',
    // the throughput collector with a thread per two cores (docs/benchmarks.md#broker-threads),
    // unless KAFKA_JAVA_OPTS chooses a collector (the JVM refuses two)
    ...(extra.some((o) => /^-XX:\+Use\w+GC$/.test(o)) ? [] : ['-XX:+UseParallelGC', `-XX:ParallelGCThreads=${BROKER_THREADS.network}`]),
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    ...extra,
    `-Dlog4j2.configurationFile=${paths.log4j}`,
    '-cp',
    path.join(lib, '*'),
    'kafka.Kafka',
    paths.props,
  ];
  const started = Date.now();
  info(`starting Kafka ${version} on ${brokers} (controller ${HOST}:${ports.controllerPort})`);
  let child;
  try {
    child = spawn(javaBin(), args, { cwd: paths.dir, env, detached: true, stdio: ['ignore', outFd, outFd] });
  } finally {
    fs.closeSync(outFd);
  }
  const spawnError = await new Promise((resolve) => {
    child.once('error', resolve);
    child.once('spawn', () => resolve(null));
  });
  if (spawnError) throw new KafkaScriptError(`cannot run ${javaBin()}: ${spawnError.message} (Kafka 4.x needs Java 17+)`);
  const pid = child.pid;
  child.unref();
  fs.writeFileSync(paths.pid, `${pid}\n`);
  fs.writeFileSync(
    paths.state,
    JSON.stringify({ pid, ...ports, version, logOffset, startedAt: new Date(started).toISOString() }, null, 2),
  );

  // 5. wait; on failure (or Ctrl-C) kill what we started
  const onSignal = (sig) => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    fs.rmSync(paths.pid, { force: true });
    fs.rmSync(paths.lock, { recursive: true, force: true });
    process.stderr.write(`[kafka] ${sig}: killed the starting broker (pid ${pid})\n`);
    process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await waitReady({ pid, ports, paths, logOffset, timeoutMs });
  } catch (err) {
    printFailureTail(paths, logOffset, outOffset);
    if (isAlive(pid)) await terminate(pid, 5_000);
    fs.rmSync(paths.pid, { force: true });
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  info(`Kafka started in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return { startedByUs: true, pid, logOffset };
}

async function waitReady({ pid, ports, paths, logOffset, timeoutMs }) {
  const deadline = Date.now() + timeoutMs;
  const startedInLog = logWatcher(paths.log, logOffset);
  let logged = false;
  for (;;) {
    if (!isAlive(pid)) throw new KafkaScriptError(`the Kafka process (pid ${pid}) exited during startup`);
    logged = logged || startedInLog();
    if (logged && (await canConnect(ports.port))) return;
    if (Date.now() > deadline) {
      throw new KafkaScriptError(
        `Kafka did not become ready within ${timeoutMs / 1000} s ` +
          `(port ${ports.port} ${(await canConnect(ports.port)) ? 'open' : 'closed'}, "${STARTED_MARKER}" ${logged ? 'seen' : 'not seen'} in the log)`,
      );
    }
    await sleep(250);
  }
}

// ---------------------------------------------------------------------------------------------
// stop / status
// ---------------------------------------------------------------------------------------------

/** Stop the broker this script started on `port` (SIGTERM, SIGKILL after 30 s). Returns {stopped, pid}. */
export async function stopKafka({ port, purge = false, quiet } = {}) {
  const prevQuiet = quietLogs;
  if (quiet !== undefined) quietLogs = quiet;
  try {
    const p = port ?? intEnv('KAFKA_PORT', 9092);
    const paths = runPaths(p);
    const pid = readPid(paths);
    let stopped = false;
    if (pid !== null && isOurBroker(pid, paths)) {
      info(`stopping Kafka on ${HOST}:${p} (pid ${pid}) ...`);
      const how = await terminate(pid);
      info(how === 'SIGKILL' ? `did not stop within ${STOP_GRACE_MS / 1000} s: killed (SIGKILL)` : 'stopped');
      stopped = true;
    } else if (pid !== null) {
      info(`pid file names pid ${pid}, which is not our broker (anymore): nothing to stop`);
    } else {
      info(`no broker started by this script on port ${p}`);
    }
    fs.rmSync(paths.pid, { force: true });
    if (purge) {
      fs.rmSync(paths.dir, { recursive: true, force: true });
      info(`purged ${path.relative(ROOT, paths.dir)}`);
    }
    return { stopped, pid };
  } finally {
    quietLogs = prevQuiet;
  }
}

/** State of every broker under .run/. */
export async function kafkaStatus() {
  let dirs = [];
  try {
    dirs = fs.readdirSync(RUN_ROOT).filter((d) => /^kafka-[0-9]+$/.test(d));
  } catch {
    // no .run
  }
  const out = [];
  for (const d of dirs.sort()) {
    const port = Number(d.slice('kafka-'.length));
    const paths = runPaths(port);
    const pid = readPid(paths);
    const state = readState(paths) || {};
    const running = pid !== null && isOurBroker(pid, paths);
    out.push({
      port,
      controllerPort: state.controllerPort,
      version: state.version,
      pid: running ? pid : null,
      running,
      accepting: running ? await canConnect(port) : false,
      startedAt: running ? state.startedAt : undefined,
      runDir: paths.dir,
      logFile: paths.log,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// topics (kafkajs, loaded lazily)
// ---------------------------------------------------------------------------------------------

async function loadKafkajs() {
  const mod = await import('kafkajs');
  return mod.default ?? mod;
}

/**
 * Create the project's topics on `brokers` (string "h:p,h:p" or array) unless they exist.
 * `partitions`: {commands, replies, events} overriding P2_*_PARTITIONS; `prefix`: topic name
 * prefix (default P2_KAFKA_TOPIC_PREFIX, else none). Returns {created, existing}.
 */
export async function ensureTopics(brokers, partitions = {}, prefix) {
  const list = (Array.isArray(brokers) ? brokers : String(brokers).split(','))
    .map((b) => b.trim())
    .filter(Boolean);
  if (list.length === 0) throw new KafkaScriptError('ensureTopics: no brokers given');
  const specs = topicSpecs(partitions ?? {}, prefix);
  // a malformed KAFKA_REPLICATION_FACTOR is refused even when every topic exists already
  positiveInt('KAFKA_REPLICATION_FACTOR', process.env.KAFKA_REPLICATION_FACTOR);
  const { Kafka, logLevel } = await loadKafkajs();
  const kafkajsLog = [];
  const kafka = new Kafka({
    clientId: 'p2-kafka-provisioning',
    brokers: list,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 200 },
    logLevel: logLevel.ERROR,
    // kafkajs logs every retried response as an ERROR; keep them and show them only if we fail
    logCreator:
      () =>
      ({ log }) =>
        kafkajsLog.push(`[kafka] kafkajs: ${log.message}${log.error ? ` (${log.error})` : ''}`),
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = specs.filter((s) => !existing.has(s.topic));
    if (missing.length > 0) {
      const { brokers: members } = await admin.describeCluster();
      const { replicationFactor, minInSyncReplicas } = topicReplication(members.length);
      const replicated = minInSyncReplicas === undefined ? [] : [{ name: 'min.insync.replicas', value: String(minInSyncReplicas) }];
      await admin.createTopics({
        waitForLeaders: true,
        timeout: 30_000,
        topics: missing.map((s) => ({ topic: s.topic, numPartitions: s.numPartitions, replicationFactor, configEntries: [...(s.configEntries ?? []), ...replicated] })),
      });
      const copies = `${replicationFactor} ${replicationFactor === 1 ? 'copy' : 'copies'}${minInSyncReplicas === undefined ? '' : `, min.insync.replicas ${minInSyncReplicas}`}`;
      info(`created topics (${copies}): ${missing.map((s) => `${s.topic}(${s.numPartitions})`).join(', ')}`);
    }
    const present = specs.filter((s) => existing.has(s.topic));
    if (present.length > 0) {
      const meta = await admin.fetchTopicMetadata({ topics: present.map((s) => s.topic) });
      for (const t of meta.topics) {
        const want = specs.find((s) => s.topic === t.name).numPartitions;
        if (t.partitions.length !== want) {
          info(`note: topic ${t.name} exists with ${t.partitions.length} partitions (configured: ${want}); left as is`);
        }
      }
      info(`topics already present: ${present.map((s) => s.topic).join(', ')}`);
    }
    // A fresh broker creates __consumer_offsets lazily, on the first FindCoordinator request, and
    // answers "group coordinator not available" until it exists. Ask once here (kafkajs retries),
    // so the first consumer group of a test or of the app does not pay for it.
    await admin.describeGroups(['p2-kafka-provisioning-warmup']);
    return { created: missing.map((s) => s.topic), existing: present.map((s) => s.topic) };
  } catch (err) {
    if (kafkajsLog.length > 0) process.stderr.write(`${kafkajsLog.slice(-20).join('\n')}\n`);
    throw new KafkaScriptError(`creating topics on ${list.join(',')} failed: ${err.message}`);
  } finally {
    await admin.disconnect();
  }
}

/** Delete the project's topics under `prefix` from `brokers` (those that exist). Returns {deleted}. */
export async function deleteTopics(brokers, prefix) {
  const list = (Array.isArray(brokers) ? brokers : String(brokers).split(','))
    .map((b) => b.trim())
    .filter(Boolean);
  const names = topicSpecs({}, prefix).map((s) => s.topic);
  const { Kafka, logLevel } = await loadKafkajs();
  const admin = new Kafka({ clientId: 'p2-kafka-provisioning', brokers: list, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const deleted = names.filter((name) => existing.has(name));
    if (deleted.length > 0) await admin.deleteTopics({ topics: deleted });
    return { deleted };
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: node scripts/kafka.mjs <fetch|start|stop [--purge]|status|create-topics>
  env: KAFKA_VERSION (${DEFAULT_KAFKA_VERSION}), KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (port+1),
       KAFKA_BROKERS (create-topics), KAFKA_REPLICATION_FACTOR (the cluster's brokers, at most 3), P2_COMMAND_PARTITIONS (12), P2_REPLY_PARTITIONS (4), P2_EVENT_PARTITIONS (12), P2_AUDIT_PARTITIONS (3),
       P2_KAFKA_TOPIC_PREFIX (none)`;

async function main(argv) {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'fetch': {
      const r = await fetchKafka();
      if (!r.fetched) info(`Kafka ${r.version} already cached in ${path.relative(ROOT, r.lib)}`);
      process.stdout.write(`KAFKA_LIB=${r.lib}\n`);
      return 0;
    }
    case 'start': {
      const r = await startKafka();
      process.stdout.write(`KAFKA_BROKERS=${r.brokers}\n`);
      return 0;
    }
    case 'stop': {
      await stopKafka({ purge: rest.includes('--purge') });
      return 0;
    }
    case 'status': {
      const wanted = intEnv('KAFKA_PORT', 9092);
      const all = await kafkaStatus();
      if (all.length === 0) process.stdout.write('no Kafka run directories under .run/\n');
      for (const s of all) {
        const where = path.relative(ROOT, s.runDir);
        process.stdout.write(
          s.running
            ? `kafka ${HOST}:${s.port}: running (pid ${s.pid}, Kafka ${s.version}, controller ${s.controllerPort}, ` +
                `${s.accepting ? 'accepting connections' : 'NOT accepting connections'}, since ${s.startedAt}) ${where}\n`
            : `kafka ${HOST}:${s.port}: stopped ${where}\n`,
        );
      }
      const mine = all.find((s) => s.port === wanted);
      return mine?.running && mine.accepting ? 0 : 1;
    }
    case 'create-topics': {
      const brokers = process.env.KAFKA_BROKERS || `${HOST}:${intEnv('KAFKA_PORT', 9092)}`;
      await ensureTopics(brokers);
      process.stdout.write(`KAFKA_BROKERS=${brokers}\n`);
      return 0;
    }
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

function invokedDirectly() {
  if (!process.argv[1]) return false;
  try {
    return pathToFileURL(fs.realpathSync(process.argv[1])).href === pathToFileURL(fs.realpathSync(SCRIPT)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`[kafka] error: ${err instanceof KafkaScriptError ? err.message : err?.stack || err}\n`);
      process.exit(1);
    },
  );
}

#!/usr/bin/env node
// The broker's own view of a bench cell: how many requests of each kind it served per answered
// request of the cell, and where each kind's time went (queue, local work, the wait of a long poll,
// sending the response), from its JMX request metrics (kafka.network:type=RequestMetrics). The
// question behind "fewer Kafka requests per write" (docs/benchmarks.md#kafka-request-metrics).
//
// The broker must expose JMX without authentication on the loopback, e.g. the dev broker started with
//   KAFKA_JAVA_OPTS="-Dcom.sun.management.jmxremote -Dcom.sun.management.jmxremote.port=19099 \
//     -Dcom.sun.management.jmxremote.rmi.port=19099 -Dcom.sun.management.jmxremote.authenticate=false \
//     -Dcom.sun.management.jmxremote.ssl=false -Djava.rmi.server.hostname=127.0.0.1" \
//     P2_CACHE_DIR=/var/cache/p2-dev KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 node scripts/kafka.mjs start
// then, with the bench command after `--` (its cells are found by the bench's "measuring" lines):
//   KAFKA_JMX=127.0.0.1:19099 node bench/experiments/kafka-request-metrics.mjs -- \
//     npm run bench -- --phases kp-upload,open --connections 1,64 --duration 10 --no-ceilings --warmup 5
// A JVM (java on the PATH, 11 or later) runs KafkaRequestMetrics.java beside this file, which prints the
// metrics once a second; this script keeps those samples and the bench's lines, and prints one table per cell.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const jmx = process.env.KAFKA_JMX;
const dash = process.argv.indexOf('--');
if (!jmx || dash < 0 || dash === process.argv.length - 1) {
  process.stderr.write('usage: KAFKA_JMX=host:port node bench/experiments/kafka-request-metrics.mjs -- <bench command>\n');
  process.exit(2);
}
const command = process.argv.slice(dash + 1);
// the bench takes `--duration 10` and `--duration=10`; 5 s when not given
const durationArg = command.findIndex((arg) => arg === '--duration' || arg.startsWith('--duration='));
const durationSeconds = durationArg < 0 ? 5 : Number(command[durationArg].includes('=') ? command[durationArg].split('=')[1] : command[durationArg + 1]);
const TIMES = ['RequestQueueTimeMs', 'LocalTimeMs', 'RemoteTimeMs', 'ResponseQueueTimeMs', 'ResponseSendTimeMs', 'TotalTimeMs'];

/** samples: { t: epoch ms, m: { "<request>|<metric>": [count, sum of ms] } } */
const samples = [];
const sampler = spawn('java', [join(dirname(fileURLToPath(import.meta.url)), 'KafkaRequestMetrics.java'), jmx], { stdio: ['ignore', 'pipe', 'inherit'] });
createInterface({ input: sampler.stdout }).on('line', (line) => samples.push(JSON.parse(line)));
await new Promise((resolve, reject) => {
  const deadline = setTimeout(() => reject(new Error(`no JMX sample from ${jmx} within 30 s`)), 30_000);
  const check = setInterval(() => samples.length > 0 && (clearInterval(check), clearTimeout(deadline), resolve()), 100);
  sampler.once('exit', (code) => reject(new Error(`the JMX sampler exited (${code})`)));
  sampler.once('error', (error) => reject(new Error(`the JMX sampler did not start: ${error.message} (java on the PATH?)`)));
});

/** cells: { name, start (epoch ms of the "measuring" line), rate (answered per second, from the result line) } */
const cells = [];
const bench = spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'pipe'] });
createInterface({ input: bench.stderr }).on('line', (line) => {
  process.stderr.write(`${line}\n`);
  const measuring = /^\[bench\] (\S+ at \d+): measuring$/.exec(line);
  if (measuring) cells.push({ name: measuring[1], start: Date.now() });
  const result = /^\[bench\] (\S+ at \d+): ([0-9.,]+) ops\/s/.exec(line);
  const cell = result && cells.findLast((c) => c.name === result[1]);
  if (cell) cell.rate = Number(result[2].replace(/,/g, ''));
});
const status = await new Promise((resolve) => bench.once('exit', (code) => resolve(code ?? 1)));
sampler.kill();

/** the sample closest to `t` */
const at = (t) => samples.reduce((best, s) => (Math.abs(s.t - t) < Math.abs(best.t - t) ? s : best));
for (const cell of cells.filter((c) => c.rate > 0)) {
  // a second in from each end: the load generator's start and the cell's last requests
  const from = at(cell.start + 1000);
  const to = at(cell.start + (durationSeconds - 1) * 1000);
  const seconds = (to.t - from.t) / 1000;
  if (seconds <= 0) continue;
  const delta = (key) => {
    const [c1, s1] = to.m[key] ?? [0, 0];
    const [c0, s0] = from.m[key] ?? [0, 0];
    return { count: c1 - c0, sum: s1 - s0 };
  };
  const kinds = [...new Set(Object.keys(to.m).map((k) => k.split('|')[0]))];
  const rows = [];
  // the broker counts fetches twice: as Fetch, and as FetchConsumer or FetchFollower, which alone have their times
  for (const kind of kinds.filter((k) => k !== 'Fetch')) {
    const requests = delta(`${kind}|RequestsPerSec`).count;
    if (requests <= 0) continue;
    const means = TIMES.map((metric) => {
      const { count, sum } = delta(`${kind}|${metric}`);
      return count > 0 ? Math.max(0, sum / count).toFixed(2) : '—';
    });
    rows.push([kind, (requests / seconds).toFixed(0), (requests / seconds / cell.rate).toFixed(2), ...means]);
  }
  rows.sort((a, b) => Number(b[1]) - Number(a[1]));
  const total = rows.reduce((sum, r) => sum + Number(r[1]), 0);
  process.stdout.write(`\n${cell.name}: ${cell.rate}/s answered; broker requests over ${seconds.toFixed(1)} s: ${total}/s, ${(total / cell.rate).toFixed(2)} per answered request\n\n`);
  process.stdout.write(`| request | per second | per answered request | ${TIMES.map((t) => `${t.replace(/Ms$/, '')} ms`).join(' | ')} |\n|---|${'---:|'.repeat(2 + TIMES.length)}\n`);
  for (const row of rows) process.stdout.write(`| ${row.join(' | ')} |\n`);
}
process.exit(status);

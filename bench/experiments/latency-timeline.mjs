#!/usr/bin/env node
/**
 * When did a cell's slow answers come? Reads the files `npm run bench -- --timeline <dir>` writes
 * (one line per answer: ms since the cell began, latency ms, status) and tells apart the two ways a
 * p99 gets long: answers slow all through the cell (queueing: the latencies spread evenly over
 * time), or stalls (moments when nothing comes back for a while and every request in flight waits).
 *
 *   P2_PASSWORD_SCRYPT_COST=14 npm run bench -- --phases kp-upload --connections 64 --no-ceilings \
 *     --timeline /tmp/timeline --output /tmp/bench
 *   node bench/experiments/latency-timeline.mjs /tmp/timeline/*.csv [--bucket 50] [--gap 20] \
 *     [--pauses /tmp/pause-log] [--jvm-gc <file>] [--min-pause <ms>]
 *
 * Per file: the answers' p50, p99 and maximum; the share of the answers slower than the p99 that
 * fall in the slowest tenth of the time buckets (a tenth when they are spread evenly, near all of
 * them when they come in bursts); the gaps between consecutive answers longer than --gap ms, with
 * when they began (regular gaps point at something periodic: a timer, a collector, a flush); and
 * the slowest buckets.
 *
 * With --pauses <dir> (the apps started with `CLUSTER_NODE_ARGS="-r ./bench/experiments/pause-log.cjs"`,
 * which logs each app's collection pauses, late event-loop turns and, if asked, slow PostgreSQL
 * round trips), it also says, for each app and kind, how much of that fell in the lifetime of the
 * slow answers against that of the typical ones, and how many of the gaps it overlapped against
 * how many gaps of the same lengths at random moments of the cell would; --min-pause leaves out
 * what lasted less (e.g. 15, to see whether the long round trips are the ones that matter).
 * --jvm-gc <file> adds the Kafka broker's pauses from a JVM log with epoch times, which a running
 * broker starts writing on `jcmd <pid> VM.log output=<file> what=gc=info decorators=timemillis`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const argv = process.argv.slice(2);
/** Takes `name <value>` out of argv; undefined when the option is absent. */
const take = (name) => {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const [, value] = argv.splice(i, 2);
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
};
const milliseconds = (name, fallback, least) => {
  const raw = take(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < least) throw new Error(`${name} needs a number of milliseconds, at least ${least}`);
  return value;
};
const pausesDir = take('--pauses');
const jvmLog = take('--jvm-gc');
const bucketMs = milliseconds('--bucket', 50, 1);
const gapMs = milliseconds('--gap', 20, 1);
const minPause = milliseconds('--min-pause', 0, 0);
if (argv.length === 0) {
  process.stderr.write(
    'usage: node bench/experiments/latency-timeline.mjs <file.csv>... [--bucket 50] [--gap 20] [--pauses <dir>] [--jvm-gc <file>] [--min-pause <ms>]\n',
  );
  process.exit(2);
}

const KIND_NAMES = { gc: 'collection pauses', lag: 'late event-loop turns', pg: 'PostgreSQL round trips' };

/** What pause-log.cjs logged: per app (from the script path) and kind, intervals as [start, end] epoch ms. */
function readPauses(dir) {
  return readdirSync(dir)
    .map((f) => /^(gc|lag|pg)-(\d+)\.csv$/.exec(f))
    .filter(Boolean)
    .flatMap(([f, kind, pid]) => {
      const [head, ...lines] = readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean);
      const app = /apps\/([a-z0-9-]+)\//.exec(head)?.[1] ?? 'node';
      const rows = lines.map((l) => l.split(',')).map(([start, ms, label]) => ({ interval: [Number(start), Number(start) + Number(ms)], label }));
      const labels = kind === 'pg' ? ['COMMIT', 'statement'] : [undefined];
      return labels.map((label) => ({
        name: `${app} ${pid}, ${KIND_NAMES[kind]}${label ? ` (${label === 'COMMIT' ? 'ending a transaction' : 'others'})` : ''}`,
        pauses: rows.filter((r) => label === undefined || r.label === label).map((r) => r.interval),
      }));
    })
    .filter((app) => app.pauses.length > 0);
}

/** The pauses of a JVM log (`[<epoch>ms] GC(n) Pause Young (…) 200M->50M(400M) 18.123ms`), logged as they end. */
function readJvmPauses(file) {
  const pauses = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\[(\d+)ms\].*\bPause\b.* ([\d.]+)ms$/.exec(line);
    if (m) pauses.push([Number(m[1]) - Number(m[2]), Number(m[1])]);
  }
  return { name: 'kafka broker (JVM)', pauses };
}

/** Milliseconds of `pauses` inside [from, to]. */
function pausedWithin(pauses, from, to) {
  let total = 0;
  for (const [start, end] of pauses) if (end > from && start < to) total += Math.min(end, to) - Math.max(start, from);
  return total;
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
const ms = (n) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

for (const file of argv) {
  const text = readFileSync(file, 'utf8');
  const began = Number(/^# began at (\d+)/.exec(text)?.[1] ?? NaN);
  const answers = text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split(',').map(Number))
    .map(([at, latency, status]) => ({ at, latency, status }));
  if (answers.length === 0) {
    console.log(`${basename(file)}: no answers`);
    continue;
  }
  const sorted = answers.map((a) => a.latency).sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  const first = answers[0].at;
  const last = answers[answers.length - 1].at;

  // buckets by completion time; a slow answer is counted where it arrived
  const buckets = new Map();
  for (const a of answers) {
    const key = Math.floor((a.at - first) / bucketMs);
    const b = buckets.get(key) ?? { start: first + key * bucketMs, count: 0, slow: 0, max: 0 };
    b.count++;
    if (a.latency > p99) b.slow++;
    b.max = Math.max(b.max, a.latency);
    buckets.set(key, b);
  }
  const spanBuckets = Math.floor((last - first) / bucketMs) + 1;
  const slowest = [...buckets.values()].sort((a, b) => b.max - a.max);
  const tenth = Math.max(1, Math.round(spanBuckets / 10));
  const slowTotal = answers.filter((a) => a.latency > p99).length;
  const slowInWorstTenth = slowest.slice(0, tenth).reduce((n, b) => n + b.slow, 0);

  const gaps = [];
  for (let i = 1; i < answers.length; i++) {
    const gap = answers[i].at - answers[i - 1].at;
    if (gap > gapMs) gaps.push({ at: answers[i - 1].at, gap });
  }
  const rate = (answers.length / Math.max(1, last - first)) * 1000;

  console.log(`\n${basename(file)}: ${answers.length} answers in ${ms(last - first)} ms (${rate.toFixed(0)}/s); latency p50 ${ms(p50)} ms, p99 ${ms(p99)} ms, max ${ms(sorted[sorted.length - 1])} ms`);
  console.log(
    `  answers slower than the p99: ${slowTotal}; ${slowInWorstTenth} of them (${slowTotal ? ((100 * slowInWorstTenth) / slowTotal).toFixed(0) : 0} %) in the slowest tenth of the ${bucketMs} ms buckets (${tenth} of ${spanBuckets})`,
  );
  const longestGap = gaps.reduce((m, g) => Math.max(m, g.gap), 0);
  console.log(
    `  buckets without an answer: ${spanBuckets - buckets.size}; gaps between answers over ${gapMs} ms: ${gaps.length}, ${ms(gaps.reduce((t, g) => t + g.gap, 0))} ms in all, the longest ${ms(longestGap)} ms`,
  );
  for (const g of gaps.slice(0, 30)) console.log(`    at ${ms(g.at)} ms: nothing for ${ms(g.gap)} ms`);
  if (gaps.length > 30) console.log(`    … ${gaps.length - 30} more`);
  console.log(`  slowest buckets (start ms: answers, slower than p99, max latency ms):`);
  for (const b of slowest.slice(0, 8)) console.log(`    ${ms(b.start)}: ${b.count}, ${b.slow}, ${ms(b.max)}`);

  if (pausesDir === undefined && jvmLog === undefined) continue;
  if (!Number.isFinite(began)) {
    console.log('  (no "# began at" line: written before --timeline recorded the wall clock; no GC comparison)');
    continue;
  }
  const apps = [...(pausesDir ? readPauses(pausesDir) : []), ...(jvmLog ? [readJvmPauses(jvmLog)] : [])];
  const slow = answers.filter((a) => a.latency > p99);
  const typical = answers.filter((a) => a.latency <= p50);
  const mean = (list, f) => list.reduce((t, a) => t + f(a), 0) / Math.max(1, list.length);
  // random gaps of the same lengths, ten per real one, spread over the cell
  let seed = 1;
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  const shuffled = gaps.flatMap((g) => Array.from({ length: 10 }, () => ({ at: first + random() * Math.max(0, last - first - g.gap), gap: g.gap })));
  console.log(`  what held each process up${minPause > 0 ? ` (${minPause} ms or longer)` : ''}:`);
  for (const app of apps) {
    const inCell = app.pauses.filter(([start, end]) => end - start >= minPause && end > began + first && start < began + last);
    if (inCell.length === 0) continue;
    const lifetime = (a) => pausedWithin(inCell, began + a.at - a.latency, began + a.at);
    const overlapping = (list) => list.filter((g) => pausedWithin(inCell, began + g.at, began + g.at + g.gap) > 0).length;
    const pausedMs = inCell.reduce((t, [start, end]) => t + end - start, 0);
    const longest = inCell.reduce((m, [start, end]) => Math.max(m, end - start), 0);
    console.log(
      `    ${app.name}: ${inCell.length}, ${ms(pausedMs)} ms in all (${((100 * pausedMs) / Math.max(1, last - first)).toFixed(1)} % of the cell), the longest ${ms(longest)} ms; ` +
        `within an answer's lifetime: ${ms(mean(slow, lifetime))} ms for those slower than the p99, ${ms(mean(typical, lifetime))} ms for those at or under the p50; ` +
        `gaps overlapped: ${overlapping(gaps)} of ${gaps.length} (at random moments: ${gaps.length ? ((overlapping(shuffled) / shuffled.length) * gaps.length).toFixed(1) : 0})`,
    );
  }
}

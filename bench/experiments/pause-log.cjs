/**
 * Preload for the apps of a bench run (`CLUSTER_NODE_ARGS="-r ./bench/experiments/pause-log.cjs"`):
 * logs, with wall-clock times, the moments the process was not getting on with its work, each
 * kind to a file of its own in $PAUSE_LOG_DIR (default /tmp/pause-log), one `<start, epoch
 * ms>,<ms>,<label>` line each, after a `# <script>` line naming the app:
 *  - gc-<pid>.csv: every garbage collection's pause;
 *  - lag-<pid>.csv: every time the event loop ran a 5 ms timer more than PAUSE_LOG_LAG_MS (10) late:
 *    the loop was busy (a collection, long synchronous work) or the process waited for a core; the
 *    label is the CPU time the process used meanwhile, which tells the two apart;
 *  - pg-<pid>.csv (with PAUSE_LOG_PG=1): every PostgreSQL round trip (pg's Client#query, from the
 *    call to the answer) of at least PAUSE_LOG_PG_MIN_MS (3) ms, labelled COMMIT when its text
 *    ends a transaction; pg is wrapped for that, so this one is for experiments only.
 * bench/experiments/latency-timeline.mjs --pauses <dir> lays them beside a cell's answers. Nothing
 * in the project loads this file.
 */
const fs = require('node:fs');
const path = require('node:path');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');

const dir = process.env.PAUSE_LOG_DIR || '/tmp/pause-log';
fs.mkdirSync(dir, { recursive: true });
const epoch = (at) => (performance.timeOrigin + at).toFixed(1);

/** A log file whose lines are written in blocks, every half second and at exit. */
function logFile(kind) {
  const file = path.join(dir, `${kind}-${process.pid}.csv`);
  fs.writeFileSync(file, `# ${process.argv[1] ?? 'node'}\n`);
  let lines = [];
  const flush = () => {
    if (lines.length === 0) return;
    fs.appendFileSync(file, `${lines.join('\n')}\n`);
    lines = [];
  };
  setInterval(flush, 500).unref();
  process.on('exit', flush);
  return (start, ms, label) => lines.push(`${epoch(start)},${ms.toFixed(2)},${label}`);
}

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
const gc = logFile('gc');
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) gc(entry.startTime, entry.duration, KINDS[entry.detail?.kind] ?? 'other');
}).observe({ entryTypes: ['gc'] });

const LAG_TICK_MS = 5;
const lagOver = Number(process.env.PAUSE_LOG_LAG_MS || 10);
const lag = logFile('lag');
let due = performance.now() + LAG_TICK_MS;
let cpu = process.cpuUsage();
setInterval(() => {
  const now = performance.now();
  const used = process.cpuUsage(cpu);
  // the process's CPU time over the late turn (every thread: collector helpers too) tells a busy
  // loop (about as much CPU as wall time) from a process that waited for a core (much less)
  if (now - due > lagOver) lag(due, now - due, `cpu ${((used.user + used.system) / 1000).toFixed(1)} ms`);
  cpu = process.cpuUsage();
  due = now + LAG_TICK_MS;
}, LAG_TICK_MS).unref();

if (process.env.PAUSE_LOG_PG === '1') {
  const pg = require('pg');
  const minMs = Number(process.env.PAUSE_LOG_PG_MIN_MS || 3);
  const trip = logFile('pg');
  const query = pg.Client.prototype.query;
  pg.Client.prototype.query = function (config, values, callback) {
    const start = performance.now();
    const text = typeof config === 'string' ? config : (config && config.text) || '';
    const label = /\bCOMMIT\b/i.test(text) ? 'COMMIT' : 'statement';
    const done = () => {
      const ms = performance.now() - start;
      if (ms >= minMs) trip(start, ms, label);
    };
    const wrap = (cb) =>
      function (...args) {
        done();
        return cb.apply(this, args);
      };
    if (typeof values === 'function') return query.call(this, config, wrap(values));
    if (typeof callback === 'function') return query.call(this, config, values, wrap(callback));
    const result = query.call(this, config, values);
    if (result && typeof result.then === 'function') result.then(done, done);
    return result;
  };
}

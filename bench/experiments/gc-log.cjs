/**
 * Preload for the apps of a bench run (`CLUSTER_NODE_ARGS="-r ./bench/experiments/gc-log.cjs"`):
 * writes every garbage collection of the process to $GC_LOG_DIR/gc-<pid>.csv (default
 * /tmp/gc-log), one `<start, epoch ms>,<pause ms>,<kind>` line each, after a `# <script>` line
 * naming the app. bench/experiments/latency-timeline.mjs --gc <dir> lays them beside a cell's
 * answers, to see whether the moments nothing came back were the moments a process collected.
 * The observer costs little, but it is for experiments: nothing in the project loads it.
 */
const fs = require('node:fs');
const path = require('node:path');
const { PerformanceObserver, constants, performance } = require('node:perf_hooks');

const dir = process.env.GC_LOG_DIR || '/tmp/gc-log';
fs.mkdirSync(dir, { recursive: true });
const file = path.join(dir, `gc-${process.pid}.csv`);
fs.writeFileSync(file, `# ${process.argv[1] ?? 'node'}\n`);

const KINDS = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
let lines = [];
const flush = () => {
  if (lines.length === 0) return;
  fs.appendFileSync(file, `${lines.join('\n')}\n`);
  lines = [];
};
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    lines.push(`${(performance.timeOrigin + entry.startTime).toFixed(1)},${entry.duration.toFixed(2)},${KINDS[entry.detail?.kind] ?? 'other'}`);
  }
}).observe({ entryTypes: ['gc'] });
setInterval(flush, 500).unref();
process.on('exit', flush);

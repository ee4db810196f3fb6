#!/usr/bin/env node
// Sums a V8 .cpuprofile (node --cpu-prof) by package and by function, self and inclusive time,
// over a time window: the whole profile, the busiest N seconds, or the span between the first
// and the last sample whose stack holds a named function (a route handler: the measured cell).
//
//   node scripts/cpuprofile-summary.mjs <file.cpuprofile> [--busiest 10] [--around upload] [--top 30]
//
// Inclusive time counts each package (or function) once per sample however deep it recurs, so the
// inclusive shares of nested packages overlap and do not add up to 100 %.
import { readFileSync } from 'node:fs';

const options = {};
const positional = [];
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  if (arg.startsWith('--')) options[arg.slice(2)] = process.argv[++i];
  else positional.push(arg);
}
const file = positional[0];
const option = (name) => options[name];
if (!file) {
  process.stderr.write('usage: cpuprofile-summary.mjs <file.cpuprofile> [--busiest seconds] [--around functionName] [--top n]\n');
  process.exit(2);
}
const top = Number(option('top') ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8'));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function packageOf(frame) {
  const url = frame.url ?? '';
  if (!url) return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 14).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const dist = /\/dist\/(apps\/[^/]+\/src\/[^/]+|libs\/[^/]+)/.exec(url);
  if (dist) return dist[1];
  return url.replace(/^file:\/\//, '');
}
function functionOf(frame) {
  const url = (frame.url ?? '').replace(/^.*\/node_modules\//, '').replace(/^.*\/dist\//, '');
  return `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
}

// sample times (µs from the profile's start)
const times = [];
let t = 0;
for (let i = 0; i < profile.samples.length; i++) {
  t += profile.timeDeltas[i] ?? 0;
  times.push(t);
}
const stackOf = (id) => {
  const stack = [];
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) stack.push(byId.get(cur));
  return stack;
};
const idle = (node) => node.callFrame.functionName === '(idle)';

let from = 0;
let to = times.at(-1) ?? 0;
const around = option('around');
const busiest = option('busiest');
if (around) {
  const hits = [];
  for (let i = 0; i < profile.samples.length; i++) if (stackOf(profile.samples[i]).some((n) => n.callFrame.functionName === around)) hits.push(times[i]);
  if (hits.length === 0) throw new Error(`no sample holds ${around}`);
  from = hits[0];
  to = hits.at(-1);
} else if (busiest) {
  const span = Number(busiest) * 1e6;
  let best = 0;
  let lo = 0;
  let busy = 0;
  const weight = (i) => (idle(byId.get(profile.samples[i])) ? 0 : (profile.timeDeltas[i + 1] ?? 0));
  for (let hi = 0; hi < times.length; hi++) {
    busy += weight(hi);
    while (times[hi] - times[lo] > span) busy -= weight(lo++);
    if (busy > best) {
      best = busy;
      from = times[lo];
      to = times[hi];
    }
  }
}

const selfPkg = new Map();
const inclPkg = new Map();
const selfFn = new Map();
const inclFn = new Map();
let total = 0;
let idleTime = 0;
const add = (map, key, v) => map.set(key, (map.get(key) ?? 0) + v);
for (let i = 0; i < profile.samples.length; i++) {
  if (times[i] < from || times[i] > to) continue;
  // a sample stands for the time until the next one
  const dt = profile.timeDeltas[i + 1] ?? 0;
  const node = byId.get(profile.samples[i]);
  if (idle(node)) {
    idleTime += dt;
    continue;
  }
  total += dt;
  const stack = stackOf(node.id);
  add(selfPkg, packageOf(node.callFrame), dt);
  add(selfFn, functionOf(node.callFrame), dt);
  for (const p of new Set(stack.map((n) => packageOf(n.callFrame)))) add(inclPkg, p, dt);
  for (const f of new Set(stack.map((n) => functionOf(n.callFrame)))) add(inclFn, f, dt);
}

const ms = (us) => (us / 1000).toFixed(0).padStart(7);
const pct = (us) => ((100 * us) / total).toFixed(1).padStart(5);
const print = (title, map) => {
  process.stdout.write(`\n${title}\n`);
  for (const [k, v] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${ms(v)} ms ${pct(v)} %  ${k}\n`);
};
process.stdout.write(`${file}\nwindow ${(from / 1e6).toFixed(1)}–${(to / 1e6).toFixed(1)} s: busy ${(total / 1000).toFixed(0)} ms, idle ${(idleTime / 1000).toFixed(0)} ms\n`);
print('self, by package', selfPkg);
print('inclusive, by package', inclPkg);
print('self, by function', selfFn);
print('inclusive, by function', inclFn);

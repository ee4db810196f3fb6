#!/usr/bin/env node
// Runs a command once per value of the guest kernel's halt-polling window, alternating, to test
// whether a write at one connection is slow on a virtual machine because its idle virtual CPUs halt
// (docs/benchmarks.md#halt-poll). A guest with the `haltpoll` cpuidle driver spins up to
// `guest_halt_poll_ns` before it halts an idle CPU; a wake-up inside that window needs no exit to the
// host. A write at one connection passes from process to process, so one CPU idles between every
// two hops and is woken by the next one. Nothing in the project sets this: it is the machine's.
//
// Needs root and the haltpoll module (/sys/module/haltpoll). The window the machine had is put back
// when the script ends, also on Ctrl-C. Each run's output goes to stdout as it comes, after a line
// naming the window.
//
//   node bench/experiments/halt-poll.mjs [--values 0,200000] [--rounds 2] -- <command> [args...]
//   e.g. ... -- npm run bench -- --phases kp-upload --connections 1 --duration 10 --cpu --no-ceilings
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const PARAM = '/sys/module/haltpoll/parameters/guest_halt_poll_ns';
const args = process.argv.slice(2);
const split = args.indexOf('--');
if (split < 0 || split === args.length - 1) {
  process.stderr.write('usage: halt-poll.mjs [--values 0,200000] [--rounds 2] -- <command> [args...]\n');
  process.exit(2);
}
const own = args.slice(0, split);
const command = args.slice(split + 1);
const option = (name, fallback) => {
  const i = own.indexOf(`--${name}`);
  return i >= 0 ? own[i + 1] : fallback;
};
const values = option('values', '0,200000').split(',').map((v) => {
  if (!/^\d+$/.test(v)) throw new Error(`--values: ${v} is not a number of nanoseconds`);
  return v;
});
const rounds = Number(option('rounds', '2'));

let original;
try {
  original = readFileSync(PARAM, 'utf8').trim();
} catch {
  process.stderr.write(`${PARAM} cannot be read: this kernel has no haltpoll cpuidle driver, nothing to vary\n`);
  process.exit(1);
}
const driver = readFileSync('/sys/devices/system/cpu/cpuidle/current_driver', 'utf8').trim();
if (driver !== 'haltpoll') process.stderr.write(`note: the cpuidle driver is ${driver}, not haltpoll: the window may have no effect\n`);

const set = (value) => writeFileSync(PARAM, `${value}\n`);
// Ctrl-C (or `timeout`) reaches the command too, which ends, and the `finally` below puts the window
// back. Without a listener the signal would end this process at once, inside spawnSync, before that.
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => undefined);

try {
  for (let round = 1; round <= rounds; round++) {
    for (const value of values) {
      set(value);
      process.stdout.write(`\n=== round ${round}, guest_halt_poll_ns=${value} ===\n`);
      const run = spawnSync(command[0], command.slice(1), { stdio: 'inherit' });
      if (run.status !== 0) throw new Error(`${command.join(' ')} ${run.error ? `could not run: ${run.error.message}` : `ended with ${run.status ?? run.signal}`}`);
    }
  }
} finally {
  set(original);
  process.stderr.write(`guest_halt_poll_ns back at ${original}\n`);
}

#!/usr/bin/env node
// Keeps `inFlight` scrypt checks at the gateway's cost running, each restarted as it ends, and
// prints how many finished every 10 s: a password check's load beside the write path, without
// the write path's own requests. Run a bench cell while it runs and once without it, to see what
// scrypt's company costs the other processes (docs/benchmarks.md#open-beyond-scrypt).
//
//   node bench/experiments/scrypt-beside.mjs [inFlight=1] [log2N=14]
import { randomBytes, scrypt } from 'node:crypto';

const inFlight = Number(process.argv[2] ?? 1);
const N = 2 ** Number(process.argv[3] ?? 14);
let finished = 0;
const check = () =>
  scrypt('a password of some length', randomBytes(16), 64, { N, r: 8, p: 1, maxmem: 256 * N * 8 + 1024 * 1024 }, (error) => {
    if (error) throw error;
    finished++;
    check();
  });
for (let i = 0; i < inFlight; i++) check();
setInterval(() => {
  process.stderr.write(`scrypt checks: ${finished} in 10 s\n`);
  finished = 0;
}, 10_000);

#!/usr/bin/env node
// Keeps `inFlight` password checks running, each the gateway's own (`verifyPassword` of
// apps/gateway/src/auth/password-hasher.ts, at N = 2^cost), each started again as it ends, and prints
// how many finished every 10 s: the load of password checks beside the write path, without their
// requests. Run a bench cell while it runs and once without it, to see what the checks' company
// costs the other processes (docs/benchmarks.md#open-beyond-scrypt). Needs the build
// (`npx tsc -p tsconfig.build.json`, which `npm run bench` does too).
//
//   node bench/experiments/scrypt-beside.mjs [inFlight=1] [cost=14]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { hashPassword, verifyPassword } = require('../../dist/apps/gateway/src/auth/password-hasher.js');

const inFlight = Number(process.argv[2] ?? 1);
const cost = Number(process.argv[3] ?? 14);
const password = 'a password of some length';
const stored = await hashPassword(password, cost);
let finished = 0;
const check = () =>
  verifyPassword(password, stored, cost).then((ok) => {
    if (!ok) throw new Error('the stored hash did not verify');
    finished++;
    check();
  });
for (let i = 0; i < inFlight; i++) check();
setInterval(() => {
  process.stderr.write(`password checks: ${finished} in 10 s\n`);
  finished = 0;
}, 10_000);

#!/usr/bin/env node
// What one round trip between two processes costs on this machine when the peers idle between
// round trips, as a write at one connection makes them (docs/benchmarks.md#idle-gaps). Two peers,
// each answering one client on one connection:
//   - a bare Node HTTP server (a child process) echoing a 1 KB JSON body;
//   - a PostgreSQL backend answering `SELECT 1` (DATABASE_URL, default the machine's server).
// Each is measured back to back and with a pause of `gap` ms after each answer, alternately, twice.
// It prints the client's p50 round trip and the peer's CPU per round trip (the server's
// process.cpuUsage; the backend's utime + stime from /proc). Nothing in the project changes them:
// they say what every hop of the write path costs at one connection, and what the same hop costs
// when it is kept busy.
//
//   node bench/experiments/idle-gap-cost.mjs [--gaps 0,1,8] [--trips 1500]
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import pg from 'pg';

const args = process.argv.slice(2);
const option = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const GAPS = option('gaps', '0,8').split(',').map(Number);
const TRIPS = Number(option('trips', '1500'));
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

if (process.argv[2] === '--serve') {
  const server = http.createServer((req, res) => {
    if (req.url === '/cpu') return res.end(JSON.stringify(process.cpuUsage()));
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const value = JSON.parse(body);
      value.at = Date.now();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(value));
    });
  });
  server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
} else {
  await main();
}

async function main() {
  const child = fork(new URL(import.meta.url).pathname, ['--serve'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise((resolve) => child.once('message', (m) => resolve(m.port)));
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const request = (path, body) =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent }, (res) => {
        let data = '';
        res.on('data', (chunk) => (data += chunk));
        res.on('end', () => resolve(data));
      });
      req.on('error', reject);
      req.end(body);
    });
  const body = JSON.stringify({ keyPackage: 'x'.repeat(800), serials: [1, 2, 3] });
  const httpCpu = async () => {
    const u = JSON.parse(await request('/cpu'));
    return (u.user + u.system) / 1000;
  };

  const db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  const { rows } = await db.query('SELECT pg_backend_pid() AS pid');
  const backend = rows[0].pid;
  const ticksPerMs = 100 / 1000; // USER_HZ 100
  const pgCpu = () => {
    const fields = readFileSync(`/proc/${backend}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerMs;
  };

  const peers = [
    { name: 'Node HTTP', trip: () => request('/echo', body), cpu: httpCpu },
    { name: 'PostgreSQL', trip: () => db.query('SELECT 1'), cpu: async () => pgCpu() },
  ];
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  console.log(`${TRIPS} round trips per cell, one connection; CPU of the peer per round trip (ms), p50 of the round trip (ms)\n`);
  console.log('| peer | pause after each answer | peer CPU per trip | p50 round trip |');
  console.log('|---|---:|---:|---:|');
  for (const peer of peers) {
    for (let i = 0; i < 3000; i++) await peer.trip(); // warm-up: JIT, connection
    for (const round of [1, 2]) {
      for (const gap of GAPS) {
        const before = await peer.cpu();
        const took = [];
        for (let i = 0; i < TRIPS; i++) {
          const start = performance.now();
          await peer.trip();
          took.push(performance.now() - start);
          if (gap > 0) await sleep(gap);
        }
        const cpu = ((await peer.cpu()) - before) / TRIPS;
        took.sort((a, b) => a - b);
        console.log(`| ${peer.name} (round ${round}) | ${gap} ms | ${cpu.toFixed(3)} | ${took[took.length >> 1].toFixed(3)} |`);
      }
    }
  }
  await db.end();
  agent.destroy();
  child.kill();
}

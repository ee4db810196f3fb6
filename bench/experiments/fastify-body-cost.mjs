#!/usr/bin/env node
// The CPU a bare Fastify app spends on one JSON POST, for several installs of Fastify side by side
// (docs/benchmarks.md#fastify-5-12): what the framework's body path costs, without Nest, Kafka or
// PostgreSQL. Each build answers in a process of its own; autocannon (this project's) drives it at 64
// connections, 3 s of warm-up then 8 s measured; the server's CPU comes from /proc/<pid>/stat. The
// builds alternate, round after round, so that a machine whose speed drifts shows it in every round.
//
//   node bench/experiments/fastify-body-cost.mjs [--rounds 3] <label>=<node_modules dir> ...
//   e.g. node bench/experiments/fastify-body-cost.mjs old=/tmp/old/node_modules new=node_modules
// A directory needs `fastify` and whatever it requires; put NODE_PATH=<this project>/node_modules in
// front to borrow the rest from here (e.g. a copy of one package with a single change).
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

if (process.env.FASTIFY_BODY_COST_SERVER) {
  // the child: one route that parses a JSON body, as the gateway's writes do
  const Fastify = createRequire(path.join(path.resolve(process.env.FASTIFY_BODY_COST_SERVER), 'x.js'))('fastify');
  const app = Fastify({ logger: false });
  app.post('/w', async (request) => ({ ok: typeof request.body === 'object' }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.send({ port: app.server.address().port });
} else {
  const autocannon = createRequire(import.meta.url)('autocannon');
  const args = process.argv.slice(2);
  const roundsAt = args.indexOf('--rounds');
  const rounds = roundsAt >= 0 ? Number(args.splice(roundsAt, 2)[1]) : 3;
  const builds = args.map((arg) => arg.split('='));
  if (builds.length === 0 || builds.some((b) => b.length !== 2) || !(rounds > 0)) {
    process.stderr.write('usage: node bench/experiments/fastify-body-cost.mjs [--rounds N] <label>=<node_modules dir> ...\n');
    process.exit(2);
  }

  // a KeyPackage-sized body
  const body = JSON.stringify({ protocol_version: 'mls10', cipher_suite: '1', init_key: 'x'.repeat(64), leaf_node: 'y'.repeat(150), extensions: [] });
  const cpuMs = (pid) => {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  };
  const drive = (port, duration) =>
    autocannon({ url: `http://127.0.0.1:${port}/w`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections: 64, duration });
  for (let round = 1; round <= rounds; round++) {
    for (const [label, dir] of builds) {
      const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, FASTIFY_BODY_COST_SERVER: dir } });
      const { port } = await new Promise((resolve) => child.once('message', resolve));
      await drive(port, 3);
      const before = cpuMs(child.pid);
      const result = await drive(port, 8);
      const spent = cpuMs(child.pid) - before;
      process.stdout.write(
        `round ${round} ${label}: ${Math.round(result.requests.average)} requests/s, server CPU ${((spent * 1000) / result.requests.total).toFixed(1)} µs per request, non-2xx ${result.non2xx}\n`,
      );
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
}

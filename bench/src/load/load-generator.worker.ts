/**
 * The load generator's own process (forked by LoadGenerator): runs autocannon for one cell at a
 * time, so that generating load never competes with the bench's bookkeeping in one event loop.
 * Each request takes the next pre-generated entry of the cell's list; a write's list is never
 * cycled: when it runs out, the cell stops and says so.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { percentile, type LoadJob, type LoadRequest, type LoadResult } from './load-job';

/** Sent in place of a write once its inputs ran out, while the run winds down; its answers are not counted. */
const FILLER: LoadRequest = { method: 'GET', path: '/.well-known/polyproto-core' };

function runJob(job: LoadJob): Promise<LoadResult> {
  const entries = JSON.parse(readFileSync(job.requestsFile, 'utf8')) as LoadRequest[];
  if (entries.length === 0) throw new Error('a cell needs at least one request');
  const ok = new Set(job.okStatuses);
  const statuses = new Map<number, number>();
  const failures = new Map<string, number>();
  const captured: [number, string][] = [];
  let latencies = new Float64Array(1 << 16);
  let okCount = 0;
  let next = 0;
  let exhaustedAt: number | undefined;
  let instance: autocannon.Instance | undefined;
  const started = performance.now();

  const template: autocannon.RequestTemplate = {
    setupRequest: (request, context) => {
      let index: number;
      if (job.list === 'cycled-per-request') {
        index = next++ % entries.length;
      } else if (next < entries.length) {
        index = next++;
      } else {
        if (exhaustedAt === undefined) {
          exhaustedAt = performance.now();
          instance?.stop();
        }
        context.filler = true;
        request.method = FILLER.method;
        request.path = FILLER.path;
        request.headers = {};
        request.body = undefined;
        return request;
      }
      context.index = index;
      // `request` is a fresh object per call (autocannon adds Content-Length to its headers)
      const entry = entries[index]!;
      request.method = entry.method;
      request.path = entry.path;
      request.headers = { ...entry.headers };
      request.body = entry.body;
      return request;
    },
  };
  if (job.capture) {
    template.onResponse = (status, body, context) => {
      if (!context.filler && ok.has(status)) captured.push([context.index as number, body]);
    };
  }

  return new Promise((resolve, reject) => {
    instance = autocannon(
      {
        url: job.url,
        connections: job.connections,
        duration: job.durationSeconds,
        ...(job.amount === undefined ? {} : { amount: job.amount }),
        // the gateway answers 503 after its own reply deadline; a request without any answer for
        // this long is a timeout failure
        timeout: 30,
        // how soon a stop (duration over, inputs exhausted) takes effect
        sampleInt: 100,
        // a reused list (reads, the bare-HTTP ceiling) is built into raw requests once and cycled
        // by autocannon itself: no per-request work in this process beyond sending and parsing
        requests: job.list === 'cycled' ? entries.map((e) => ({ method: e.method, path: e.path, headers: { ...e.headers }, body: e.body })) : [template],
      },
      (error, summary) => {
        if (error) return reject(error);
        const elapsedSeconds = (performance.now() - started) / 1000;
        const sorted = latencies.subarray(0, okCount).sort();
        resolve({
          elapsedSeconds,
          ok: okCount,
          p50Ms: percentile(sorted, 50),
          p99Ms: percentile(sorted, 99),
          statuses: Object.fromEntries(statuses),
          failures: Object.fromEntries(failures),
          used: job.list === 'once' ? next : summary.requests.sent,
          ...(exhaustedAt === undefined ? {} : { exhaustedAfterSeconds: (exhaustedAt - started) / 1000 }),
          captured,
        });
      },
    );
    // autocannon emits 'response' before it prepares the client's next request, so the context
    // still belongs to the request this answer is for
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      if (client.requestIterator.context.filler) return;
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
      if (!ok.has(statusCode)) return;
      if (okCount === latencies.length) {
        const grown = new Float64Array(latencies.length * 2);
        grown.set(latencies);
        latencies = grown;
      }
      latencies[okCount++] = responseTime;
    });
    instance.on('reqError', (error) => {
      const kind = error.message === 'request timed out' ? 'timeout' : (error.code ?? error.message);
      failures.set(kind, (failures.get(kind) ?? 0) + 1);
    });
  });
}

process.on('message', (job: LoadJob) => {
  runJob(job).then(
    (result) => process.send!({ result }),
    (error: Error) => process.send!({ error: error.stack ?? error.message }),
  );
});
// the bench died or finished: nothing left to do
process.on('disconnect', () => process.exit(0));

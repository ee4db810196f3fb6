/**
 * The load generator's own process (forked by LoadGenerator): runs autocannon for one cell at a
 * time, so that generating load never competes with the bench's bookkeeping in one event loop.
 * Each request takes the next pre-generated entry of the cell's list; a write's list is never
 * cycled: when it runs out, the cell's window closes there and the result says so.
 *
 * A cell is a window of `durationSeconds`: the answers that arrive in it are the figures. When it
 * closes, no connection sends again, and the cell ends only once every request still in flight
 * has its answer (or a drain deadline passes): the server is idle again before the next cell, and
 * requests it was still working on are not left to slow that cell down.
 */
import autocannon from 'autocannon';
import { readFileSync, writeFileSync } from 'node:fs';
import { percentile, type LoadJob, type LoadRequest, type LoadResult } from './load-job';

/** Sent in place of a write once its inputs ran out (before its connection pauses); its answer is not counted. */
const FILLER: LoadRequest = { method: 'GET', path: '/.well-known/polyproto-core' };
/** Longest wait for the answers in flight when a window closes (the gateway's reply deadline is 5 s). */
const DRAIN_DEADLINE_MS = 35_000;

/**
 * Stops a connection from sending once its answer is in: autocannon sends the next request right
 * after emitting 'response', unless the client's per-second rate budget is used up, and a client
 * created without a rate has no timer that would ever renew it.
 */
function pause(client: autocannon.Client): void {
  client.rate = 1;
  client.reqsMadeThisSecond = 1;
}

function runJob(job: LoadJob): Promise<LoadResult> {
  const entries = JSON.parse(readFileSync(job.requestsFile, 'utf8')) as LoadRequest[];
  if (entries.length === 0) throw new Error('a cell needs at least one request');
  const ok = new Set(job.okStatuses);
  const statuses = new Map<number, number>();
  const failures = new Map<string, number>();
  const captured: [number, string][] = [];
  const paused = new Set<autocannon.Client>();
  let latencies = new Float64Array(1 << 16);
  let okCount = 0;
  const timeline: string[] | undefined = job.timelineFile === undefined ? undefined : [];
  let next = 0;
  let exhaustedAt: number | undefined;
  let windowEnd: number | undefined;
  let drainTimer: NodeJS.Timeout | undefined;
  let instance: autocannon.Instance | undefined;
  const started = performance.now();
  const startedAt = Date.now();

  const closeWindow = (): void => {
    if (windowEnd !== undefined) return;
    windowEnd = performance.now();
    drainTimer = setTimeout(() => instance?.stop(), DRAIN_DEADLINE_MS);
  };
  const windowTimer = job.amount === undefined ? setTimeout(closeWindow, job.durationSeconds * 1000) : undefined;

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
          closeWindow();
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
        // several origins (the gateways of a cluster): autocannon gives connection i the origin
        // i mod their number, so the connections are spread evenly over them
        url: job.urls.length === 1 ? job.urls[0]! : [...job.urls],
        connections: job.connections,
        // the window (above) ends the sending; autocannon's own clock only backs it up
        duration: job.durationSeconds + (DRAIN_DEADLINE_MS + 10_000) / 1000,
        ...(job.amount === undefined ? {} : { amount: job.amount }),
        // a request without any answer for this long is a timeout failure
        timeout: 30,
        // how soon a stop takes effect
        sampleInt: 100,
        // a reused list (reads, the bare-HTTP ceiling) is built into raw requests once and cycled
        // by autocannon itself: no per-request work in this process beyond sending and parsing
        requests: job.list === 'cycled' ? entries.map((e) => ({ method: e.method, path: e.path, headers: { ...e.headers }, body: e.body })) : [template],
      },
      (error, summary) => {
        clearTimeout(windowTimer);
        clearTimeout(drainTimer);
        if (error) return reject(error);
        if (timeline && job.timelineFile) {
          writeFileSync(job.timelineFile, `# began at ${startedAt} (epoch ms); then per answer: ms since then, latency ms, status\n${timeline.join('\n')}\n`);
        }
        const ended = windowEnd ?? performance.now();
        const unanswered = windowEnd === undefined ? 0 : job.connections - paused.size;
        if (unanswered > 0) failures.set('no answer when the cell ended', unanswered);
        const sorted = latencies.subarray(0, okCount).sort();
        resolve({
          elapsedSeconds: (ended - started) / 1000,
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
    // still belongs to the request this answer is for, and pausing here stops that next request
    instance.on('response', (client, statusCode, _bytes, responseTime) => {
      const inWindow = windowEnd === undefined;
      if (!inWindow) {
        pause(client);
        paused.add(client);
        if (paused.size === job.connections) instance?.stop();
      }
      if (client.requestIterator.context.filler) return;
      // every answer's status is reported, also those that arrive after the window
      statuses.set(statusCode, (statuses.get(statusCode) ?? 0) + 1);
      if (inWindow) timeline?.push(`${(performance.now() - started).toFixed(1)},${responseTime.toFixed(2)},${statusCode}`);
      if (!inWindow || !ok.has(statusCode)) return;
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

import { request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import pino from 'pino';
import { installRequestObservability, ProcessMetrics } from '@p2/observability';
import { eventually } from '@p2/testing';

const inFlight = async (metrics: ProcessMetrics): Promise<string | undefined> => /^p2_http_requests_in_flight\{[^}]*\} (\S+)$/m.exec(await metrics.exposition())?.[1];

describe('p2_http_requests_in_flight', () => {
  it('counts requests taken and not yet ended', async () => {
    const metrics = new ProcessMetrics('gateway', 'g1', 'test');
    metrics.httpRequestStarted();
    metrics.httpRequestStarted();
    expect(await inFlight(metrics)).toBe('2');
    metrics.httpRequestEnded();
    expect(await inFlight(metrics)).toBe('1');
    metrics.httpRequestEnded();
    expect(await inFlight(metrics)).toBe('0');
  });

  it('is a gateway figure: a certstore answers no API requests', async () => {
    expect(await inFlight(new ProcessMetrics('certstore', 'c1', 'test'))).toBeUndefined();
  });

  it("counts a gateway's requests from taken to answered or abandoned by the client, probes not at all", async () => {
    const metrics = new ProcessMetrics('gateway', 'g1', 'test');
    const app = Fastify();
    installRequestObservability(app, metrics, pino({ level: 'silent' }));
    const held: (() => void)[] = [];
    const heldResponses: ServerResponse[] = [];
    app.get('/held', (_request, reply) => {
      heldResponses.push(reply.raw);
      return new Promise<void>((answer) => held.push(() => answer(void reply.send('done'))));
    });
    app.get('/healthz', () => 'ok');
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const get = (path: string) => {
        const request = httpRequest({ host: '127.0.0.1', port, path });
        const answered = new Promise<string>((done, fail) => {
          request.on('response', (response) => {
            let body = '';
            response.on('data', (chunk: Buffer) => (body += chunk.toString()));
            response.on('end', () => done(body));
          });
          request.on('error', fail);
        });
        request.end();
        return { request, answered };
      };
      const gauge = (value: string) => eventually(() => inFlight(metrics), { until: (figure) => figure === value, intervalMs: 5, timeoutMs: 2000, what: 'in flight' });
      const answered = get('/held');
      const abandoned = get('/held');
      abandoned.answered.catch(() => undefined);
      await eventually(() => held.length, { until: (n) => n === 2, intervalMs: 5, timeoutMs: 2000, what: 'held' });
      expect(await get('/healthz').answered).toBe('ok');
      expect(await inFlight(metrics)).toBe('2');

      abandoned.request.destroy();
      await expect(abandoned.answered).rejects.toThrow();
      await gauge('1');
      held[0]!();
      expect(await answered.answered).toBe('done');
      await gauge('0');
      // the abandoned one answered late: its response closed once, when the client went away
      held[1]!();
      await eventually(() => heldResponses[1]!.writableEnded, { until: Boolean, intervalMs: 5, timeoutMs: 2000, what: 'the late answer written' });
      // a second 'close' would be emitted on a later tick of the loop, before this one's turn
      await new Promise((resolve) => setImmediate(resolve));
      expect(await inFlight(metrics)).toBe('0');
    } finally {
      await app.close();
    }
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '@p2/config';
import { FederationHttpClient, HomeServerUnreachable } from '../src/federation/federation-http.client';

/** The federation HTTP client against a real HTTP server on loopback (docs/protocol.md#federation-http). */
describe('FederationHttpClient', () => {
  let server: Server;
  let base: string;
  const hits = new Map<string, number>();
  let handler: (req: IncomingMessage, res: ServerResponse) => void;

  const client = new FederationHttpClient(
    loadConfig({
      KAFKA_BROKERS: '127.0.0.1:9092',
      P2_TOKEN_KEY: 'ab'.repeat(32),
      P2_CHALLENGE_KEY: 'cd'.repeat(32),
      P2_FEDERATION_TIMEOUT_MS: '500',
      P2_FEDERATION_CONNECT_TIMEOUT_MS: '300',
      P2_FEDERATION_MAX_RESPONSE_BYTES: '2048',
    }, { role: 'gateway' }),
  );

  beforeAll(async () => {
    server = createServer((req, res) => {
      hits.set(req.url!, (hits.get(req.url!) ?? 0) + 1);
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  async function refusal(url: string, trusted = true): Promise<string> {
    const error = await client.getJson(new URL(url), trusted).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(HomeServerUnreachable);
    return (error as Error).message;
  }

  it('reads JSON with its status and its HTTP freshness; sends Accept: application/json', async () => {
    let accept: string | undefined;
    handler = (req, res) => {
      accept = req.headers.accept;
      json(200, { api: 'x' }, { 'cache-control': 'max-age=60' })(req, res);
    };
    expect(await client.getJson(new URL(`${base}/ok`), true)).toEqual({ status: 200, body: { api: 'x' }, freshSeconds: 60 });
    expect(accept).toBe('application/json');
    handler = json(404, { errcode: 404, error: 'P2CORE_ACTOR_NOT_FOUND' });
    expect(await client.getJson(new URL(`${base}/missing`), true)).toEqual({ status: 404, body: { errcode: 404, error: 'P2CORE_ACTOR_NOT_FOUND' } });
  });

  it('refuses redirects, 5xx, answers that are not JSON, and answers over the size limit (declared or not)', async () => {
    handler = (_req, res) => {
      res.writeHead(302, { location: 'http://127.0.0.1:1/' });
      res.end();
    };
    expect(await refusal(`${base}/redirect`)).toMatch(/redirect \(302\), which is refused/);
    handler = json(503, { error: 'P2CORE_UNAVAILABLE' });
    expect(await refusal(`${base}/busy`)).toMatch(/answered 503/);
    handler = (_req, res) => res.end('<html>');
    expect(await refusal(`${base}/html`)).toMatch(/not JSON/);
    handler = json(200, 'x'.repeat(4000));
    expect(await refusal(`${base}/large`)).toMatch(/over 2048/);
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.write(`"${'y'.repeat(1500)}`);
      setTimeout(() => res.end(`${'y'.repeat(1500)}"`), 20);
    };
    expect(await refusal(`${base}/chunked`)).toMatch(/over 2048 bytes/);
  });

  it('gives up on an answer that does not come within the deadline', async () => {
    handler = () => undefined; // never answers
    expect(await refusal(`${base}/silent`)).toMatch(/no complete answer within 500 ms/);
  });

  it('reaches plain http and private addresses only for trusted (P2_FEDERATION_RESOLVE) names', async () => {
    handler = json(200, {});
    expect(await refusal(`${base}/ok`, false)).toMatch(/not https/);
    expect(await refusal(`https://127.0.0.1:${new URL(base).port}/ok`, false)).toMatch(/not a public address/);
    expect(await refusal(`https://[::1]:${new URL(base).port}/ok`, false)).toMatch(/not a public address/);
    expect(await refusal(`https://localhost:${new URL(base).port}/ok`, false)).toMatch(/ENOTPUBLIC|no public address/);
    expect(await refusal('ftp://example.com/', true)).toMatch(/not https/);
  });

  it('a refused connection is "cannot be asked"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await refusal(`http://127.0.0.1:${port}/`)).toMatch(/ECONNREFUSED/);
  });

  it('identical requests in flight share one answer', async () => {
    handler = (req, res) => setTimeout(() => json(200, { n: hits.get(req.url!) })(req, res), 50);
    const [first, second] = await Promise.all([client.getJson(new URL(`${base}/shared`), true), client.getJson(new URL(`${base}/shared`), true)]);
    expect(first).toBe(second);
    expect(hits.get('/shared')).toBe(1);
    await client.getJson(new URL(`${base}/shared`), true);
    expect(hits.get('/shared')).toBe(2);
  });
});

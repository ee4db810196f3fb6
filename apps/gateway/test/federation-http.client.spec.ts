import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { openssl, withTempDir } from '../../../test/support/openssl';
import { loadConfig } from '@p2/config';
import { eventually } from '@p2/testing';
import { FEDERATION_IDLE_SOCKET_MS, FederationHttpClient, HomeServerUnreachable } from '../src/federation/federation-http.client';

const testConfig = (env: Record<string, string>) =>
  loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', P2_TOKEN_KEY: 'ab'.repeat(32), P2_CHALLENGE_KEY: 'cd'.repeat(32), ...env }, { role: 'gateway' });

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
    client.onModuleDestroy();
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

  it('a request for a name anyone may send never reuses a connection a trusted request opened to a private address', async () => {
    const { key, cert } = withTempDir((dir) => {
      const [keyFile, certFile] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
      const made = openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-days', '1', '-keyout', keyFile, '-out', certFile]);
      if (made.status !== 0) throw new Error(made.stderr);
      return { key: readFileSync(keyFile), cert: readFileSync(certFile) };
    });
    const asked: string[] = [];
    const internal = createHttpsServer({ key, cert }, (req, res) => {
      asked.push(req.url!);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
    await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
    const origin = `https://localhost:${(internal.address() as AddressInfo).port}`;
    // trust the test's own certificate, as NODE_EXTRA_CA_CERTS would (Node reads that only at start);
    // the module object itself, which https calls connect on
    const tls = jest.requireActual<typeof import('node:tls')>('node:tls');
    const connect = tls.connect;
    const trusting = jest.spyOn(tls, 'connect').mockImplementation(((options: ConnectionOptions, ...rest: unknown[]) =>
      (connect as (...args: unknown[]) => TLSSocket)({ ...options, ca: cert }, ...rest)) as typeof tls.connect);
    try {
      // an operator's P2_FEDERATION_RESOLVE name at a private address: allowed, and its connection kept alive
      expect(await client.getJson(new URL(`${origin}/trusted`), true)).toEqual({ status: 200, body: {} });
      // the same host and port for a name anyone may send: resolved again, and refused
      expect(await refusal(`${origin}/internal/admin`, false)).toMatch(/ENOTPUBLIC|no public address/);
      expect(asked).toEqual(['/trusted']);
    } finally {
      trusting.mockRestore();
      internal.closeAllConnections();
      await new Promise((resolve) => internal.close(resolve));
    }
  });

  it('a refused connection is "cannot be asked"', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    expect(await refusal(`http://127.0.0.1:${port}/`)).toMatch(/ECONNREFUSED/);
  });

  it('closes a kept-alive socket that stays idle, even when the far server never does', async () => {
    const sockets: Socket[] = [];
    const patient = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    patient.keepAliveTimeout = 0; // the far server would keep the socket forever
    patient.on('connection', (socket: Socket) => sockets.push(socket));
    await new Promise<void>((resolve) => patient.listen(0, '127.0.0.1', resolve));
    try {
      const started = Date.now();
      expect(await client.getJson(new URL(`http://127.0.0.1:${(patient.address() as AddressInfo).port}/idle`), true)).toEqual({ status: 200, body: {} });
      expect(sockets).toHaveLength(1);
      await eventually(() => sockets[0]!.destroyed || sockets[0]!.readyState === 'closed', { until: Boolean, timeoutMs: FEDERATION_IDLE_SOCKET_MS + 5_000, what: 'the idle socket closed by the client' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(FEDERATION_IDLE_SOCKET_MS - 100);
    } finally {
      patient.closeAllConnections();
      await new Promise((resolve) => patient.close(resolve));
    }
  }, FEDERATION_IDLE_SOCKET_MS + 10_000);

  it('identical requests in flight share one answer', async () => {
    handler = (req, res) => setTimeout(() => json(200, { n: hits.get(req.url!) })(req, res), 50);
    const [first, second] = await Promise.all([client.getJson(new URL(`${base}/shared`), true), client.getJson(new URL(`${base}/shared`), true)]);
    expect(first).toBe(second);
    expect(hits.get('/shared')).toBe(1);
    await client.getJson(new URL(`${base}/shared`), true);
    expect(hits.get('/shared')).toBe(2);
  });
});

/** The bound on a pool's sockets (docs/protocol.md#federation-http), with two sockets and one place
 * in line, against servers on loopback that hold every request until the test answers it. */
describe('FederationHttpClient: sockets per pool', () => {
  class SmallPools extends FederationHttpClient {
    protected override readonly maxSockets = 2;
    protected override readonly maxWaiting = 1;
  }

  interface FarServer {
    readonly base: string;
    /** the requests it holds unanswered, in the order they came */
    readonly held: { url: string; answer: () => void }[];
    readonly connections: () => number;
    readonly closed: () => number;
    readonly stop: () => Promise<void>;
  }

  async function farServer(): Promise<FarServer> {
    const held: FarServer['held'] = [];
    let connections = 0;
    let closed = 0;
    const server = createServer((req, res) => held.push({ url: req.url!, answer: () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}') }));
    server.on('connection', (socket: Socket) => {
      connections++;
      socket.on('close', () => closed++);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      held,
      connections: () => connections,
      closed: () => closed,
      stop: async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  const outcome = (answer: Promise<unknown>) =>
    answer.then(
      () => 'answered',
      (error: Error) => error.message,
    );
  const held = (far: FarServer, count: number) => eventually(() => far.held.length, { until: (n) => n === count, timeoutMs: 2_000, what: 'requests the far server holds' });

  it('runs at most its bound of requests at once: the next waits in line, its deadline running, and one more is refused at once', async () => {
    const client = new SmallPools(testConfig({ P2_FEDERATION_TIMEOUT_MS: '3000', P2_FEDERATION_CONNECT_TIMEOUT_MS: '1000' }));
    const far = await farServer();
    const ask = (path: string) => client.getJson(new URL(`${far.base}${path}`), true);
    try {
      const [first, second, third] = [ask('/1'), ask('/2'), ask('/3')];
      expect(await outcome(ask('/4'))).toMatch(/1 requests to other home servers already wait for a socket/);
      await held(far, 2);
      // an answer gives its turn to the one waiting, which reuses the socket it gave back
      far.held[0]!.answer();
      expect(await first).toEqual({ status: 200, body: {} });
      await held(far, 3);
      for (const request of far.held.slice(1)) request.answer();
      expect([await second, await third]).toEqual([{ status: 200, body: {} }, { status: 200, body: {} }]);
      expect(far.held.map((request) => request.url)).toEqual(['/1', '/2', '/3']);
      expect(far.connections()).toBe(2);

      // time in line counts against the deadline: one waiting behind two that are never answered gets
      // its turn when they give up, and gives up itself at the deadline counted from its call
      const holders = [ask('/5'), ask('/6')].map(outcome);
      await held(far, 5);
      const called = Date.now();
      const waiting = outcome(ask('/7'));
      expect(await Promise.all(holders)).toEqual(Array(2).fill(expect.stringMatching(/no complete answer within 3000 ms/)));
      expect(await waiting).toMatch(/no complete answer within 3000 ms/);
      // counted from its turn, it would have come about 3 s after the others gave up
      expect(Date.now() - called).toBeLessThan(4_500);
    } finally {
      client.onModuleDestroy();
      await far.stop();
    }
  }, 15_000);

  it('closes an idle socket to make room when the pool is at its bound, long before it would time out', async () => {
    const client = new SmallPools(testConfig({ P2_FEDERATION_TIMEOUT_MS: '3000' }));
    const [one, other] = [await farServer(), await farServer()];
    const ask = (far: FarServer, path: string) => client.getJson(new URL(`${far.base}${path}`), true);
    try {
      // two requests at once: two sockets, both idle once answered
      const both = [ask(one, '/a'), ask(one, '/b')];
      await held(one, 2);
      for (const request of one.held) request.answer();
      await Promise.all(both);
      expect([one.connections(), one.closed()]).toEqual([2, 0]);
      const third = ask(other, '/c');
      await held(other, 1);
      other.held[0]!.answer();
      await third;
      await eventually(() => one.closed(), { until: (n) => n === 1, timeoutMs: FEDERATION_IDLE_SOCKET_MS / 2, what: 'idle sockets closed' });
      expect(one.connections()).toBe(2);
    } finally {
      client.onModuleDestroy();
      await Promise.all([one.stop(), other.stop()]);
    }
  }, 15_000);
});

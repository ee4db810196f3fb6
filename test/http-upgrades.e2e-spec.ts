import { connect } from 'node:net';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { GatewayClient } from './support/gateway-client';
import { bearer, http } from './support/http';
import { sample } from './support/metrics';
import { opensslCsr } from './support/openssl';

/** Writes `request` on a new connection and reads everything until the server closes it (latin1). */
async function exchange(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.from(request, 'latin1')));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
  });
}

/** Writes `request` on a new connection and reads until the head of the `n`th answer is complete
 * (the socket stays open after a 101, so reading to the end would never end), then closes it. */
async function exchangeHeads(url: string, request: string, n: number): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(Buffer.from(request, 'latin1')));
    let raw = '';
    const done = () => {
      socket.destroy();
      resolve(raw);
    };
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (raw.split('\r\n\r\n').length > n) done();
    });
    socket.on('close', done);
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
  });
}

/** The first answer of `raw` (by its Content-Length) and what follows it. */
function firstAnswer(raw: string): { first: Answer; rest: string } {
  const end = raw.indexOf('\r\n\r\n');
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(raw.slice(0, end))?.[1] ?? 0);
  return { first: parseAnswer(raw.slice(0, end + 4 + length)), rest: raw.slice(end + 4 + length) };
}

interface Answer {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP/1.1 answer, checked for form: a status line with a reason, header lines that are
 * `name: value`, a blank line ending them, a Content-Length that is the body's length, and nothing
 * after the body. */
function parseAnswer(raw: string): Answer {
  const end = raw.indexOf('\r\n\r\n');
  expect({ end: end >= 0, raw: raw.slice(0, 300) }).toEqual({ end: true, raw: raw.slice(0, 300) });
  const [statusLine, ...lines] = raw.slice(0, end).split('\r\n');
  expect(statusLine).toMatch(/^HTTP\/1\.1 [1-5]\d\d [A-Za-z][A-Za-z -]*$/);
  const headers = new Map<string, string>();
  for (const line of lines) {
    expect(line).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+: [^\r\n]*$/);
    headers.set(line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 2));
  }
  const body = Buffer.from(raw.slice(end + 4), 'latin1');
  expect(headers.get('content-length')).toBe(String(body.length));
  const text = body.toString('utf8');
  return { status: Number(statusLine!.split(' ')[1]), headers, body: headers.get('content-type')?.startsWith('application/json') ? JSON.parse(text) : text };
}

function expectErrorAnswer(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, type: answer.headers.get('content-type') }).toEqual({ status, type: 'application/json; charset=utf-8' });
  expect(answer.body).toEqual({ errcode: status, error: code, message: expect.any(String) });
}

const head = (requestLine: string, headers: readonly (readonly [string, string])[]) =>
  `${requestLine}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;

const WEBSOCKET = [
  ['Connection', 'Upgrade'],
  ['Upgrade', 'websocket'],
  ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ['Sec-WebSocket-Version', '13'],
] as const;
const H2C = [
  ['Connection', 'Upgrade, HTTP2-Settings'],
  ['Upgrade', 'h2c'],
  ['HTTP2-Settings', 'AAMAAABkAAQCAAAAAAIAAAAA'],
] as const;
const HOST = ['Host', 'example.com'] as const;
const GATEWAY = '/.p2/core/v1/gateway';
const METRICS_TOKEN = 'metrics-token-0123456789abcdef';

/** Upgrade requests the gateway does not take, and headers Node answers or picks from by itself:
 * each is a well-formed answer with the error body (docs/protocol.md#upgrades, #framework-errors). */
describe('upgrades and the headers Node reads first', () => {
  let cluster: TestCluster;
  const password = 'correct horse battery staple';
  const ask = async (request: string) => parseAnswer(await exchange(cluster.url, request));

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'upgrades', env: { P2_METRICS_TOKEN: METRICS_TOKEN } });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('an Upgrade on a path that is no socket route is ignored (RFC 9110 §7.8)', () => {
    it('the route answers as without it: curl --http2 on a certificate read, Upgrade: foo on /healthz', async () => {
      // the cached read (answered before Fastify), an error of a route, another route
      for (const path of ['/.p2/core/v1/idcert/server', '/.p2/core/v1/idcert/server?timestamp=1', '/.well-known/polyproto-core']) {
        const plain = await http('GET', `${cluster.url}${path}`);
        const answer = await ask(head(`GET ${path} HTTP/1.1`, [HOST, ['User-Agent', 'curl/8.5.0'], ...H2C]));
        expect([path, answer.status, answer.body, answer.headers.get('connection')]).toEqual([path, plain.status, plain.body, 'close']);
      }
      expect((await http('GET', `${cluster.url}/.p2/core/v1/idcert/server`)).status).toBe(200);
      const health = await ask(head('GET /healthz HTTP/1.1', [HOST, ['Upgrade', 'foo'], ['Connection', 'Upgrade']]));
      expect(health.status).toBe(200);
      expect(health.headers.get('x-request-id')).toEqual(expect.any(String));
    });

    it('an unknown path is 404 P2CORE_NOT_FOUND, a known one with another method 405, as without it', async () => {
      expectErrorAnswer(await ask(head('GET /.p2/core/v1/no/such/route HTTP/1.1', [HOST, ...H2C])), 404, 'P2CORE_NOT_FOUND');
      const wrongMethod = await ask(head('DELETE /.p2/core/v1/register HTTP/1.1', [HOST, ['Upgrade', 'foo'], ['Connection', 'Upgrade']]));
      expectErrorAnswer(wrongMethod, 405, 'P2CORE_METHOD_NOT_ALLOWED');
      expect(wrongMethod.headers.get('allow')).toBe('POST');
    });

    it('behind an answer still being written (pipelined), it waits for that answer: both answered, the gateway still up', async () => {
      const plain = head('GET /healthz HTTP/1.1', [HOST]);
      const raw = await exchange(cluster.url, plain + head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST, ...H2C]));
      const { first, rest } = firstAnswer(raw);
      expect(first.status).toBe(200);
      const second = parseAnswer(rest);
      expect([second.status, second.headers.get('connection')]).toEqual([200, 'close']);
      expect(second.body).toEqual((await http('GET', `${cluster.url}/.p2/core/v1/idcert/server`)).body);
      // and a WebSocket handshake pipelined behind an answer is switched after it, not inside it
      const switched = await exchangeHeads(cluster.url, plain + head(`GET ${GATEWAY} HTTP/1.1`, [HOST, ...WEBSOCKET]), 2);
      const afterFirst = firstAnswer(switched);
      expect(afterFirst.first.status).toBe(200);
      expect(afterFirst.rest.startsWith('HTTP/1.1 101 Switching Protocols\r\n')).toBe(true);
      expect((await http('GET', `${cluster.url}/healthz`)).status).toBe(200);
    });

    it('an answer made this way ends as any other: the in-flight gauge comes back down', async () => {
      const inFlight = async () => {
        const metrics = await http('GET', `${cluster.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
        expect(metrics.status).toBe(200);
        return sample(metrics.text, 'p2_http_requests_in_flight', { role: 'gateway' });
      };
      const before = await inFlight();
      expect(before).toEqual(expect.any(Number));
      for (let i = 0; i < 5; i++) expect((await ask(head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST, ...H2C]))).status).toBe(200);
      expect(await eventually(inFlight, { until: (now) => now === before, timeoutMs: 10_000, what: 'p2_http_requests_in_flight' })).toBe(before);
    });

    it('an Expect other than 100-continue is still 417 P2CORE_EXPECTATION_FAILED', async () => {
      expectErrorAnswer(await ask(head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST, ...H2C, ['Expect', 'weird']])), 417, 'P2CORE_EXPECTATION_FAILED');
    });

    it('a request with a body and an Upgrade is refused (400), not answered as if its body were empty', async () => {
      const body = JSON.stringify({ actor_name: 'upgrader', auth_payload: { password } });
      const refused = await ask(
        head('POST /.p2/core/v1/register HTTP/1.1', [HOST, ...H2C, ['Content-Type', 'application/json'], ['Content-Length', String(body.length)]]) + body,
      );
      expectErrorAnswer(refused, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(refused.body.message).toMatch(/Upgrade/);
      const chunked = await ask(head('POST /.p2/core/v1/register HTTP/1.1', [HOST, ['Upgrade', 'foo'], ['Connection', 'Upgrade'], ['Transfer-Encoding', 'chunked']]) + '0\r\n\r\n');
      expectErrorAnswer(chunked, 400, 'P2CORE_MALFORMED_REQUEST');
      // nothing was registered, and the name is still free
      expect((await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'upgrader', auth_payload: { password } } })).status).toBe(201);
    });
  });

  describe('a refused handshake on the socket route has the error body', () => {
    it('a Host that is no host → 400 P2CORE_MALFORMED_REQUEST', async () => {
      for (const host of ['[', 'a b']) {
        const answer = await ask(head(`GET ${GATEWAY} HTTP/1.1`, [['Host', host], ...WEBSOCKET]));
        expectErrorAnswer(answer, 400, 'P2CORE_MALFORMED_REQUEST');
        expect([host, answer.body.message]).toEqual([host, 'The Host header is not a valid host.']);
      }
    });

    it('an Upgrade other than websocket, a bad key or version → 400 P2CORE_MALFORMED_REQUEST; another method → 405', async () => {
      expectErrorAnswer(await ask(head(`GET ${GATEWAY} HTTP/1.1`, [HOST, ...H2C])), 400, 'P2CORE_MALFORMED_REQUEST');
      const version = await ask(head(`GET ${GATEWAY}/ HTTP/1.1`, [HOST, ...WEBSOCKET.filter(([name]) => name !== 'Sec-WebSocket-Version'), ['Sec-WebSocket-Version', '99']]));
      expectErrorAnswer(version, 400, 'P2CORE_MALFORMED_REQUEST');
      expect([version.body.message, version.headers.get('sec-websocket-version')]).toEqual([expect.stringMatching(/Sec-WebSocket-Version/), '13, 8']);
      const key = await ask(head(`GET ${GATEWAY} HTTP/1.1`, [HOST, ...WEBSOCKET.filter(([name]) => name !== 'Sec-WebSocket-Key')]));
      expectErrorAnswer(key, 400, 'P2CORE_MALFORMED_REQUEST');
      const post = await ask(head(`POST ${GATEWAY} HTTP/1.1`, [HOST, ...WEBSOCKET]));
      expectErrorAnswer(post, 405, 'P2CORE_METHOD_NOT_ALLOWED');
      expect(post.headers.get('allow')).toBe('GET');
    });

    it('the socket route in absolute form or with dot segments is the socket route, as before', async () => {
      for (const target of [`http://example.com${GATEWAY}`, `/.p2/core/v1/x/..${GATEWAY.slice('/.p2/core/v1'.length)}`, `${GATEWAY}/?v=1`]) {
        const raw = await exchangeHeads(cluster.url, head(`GET ${target} HTTP/1.1`, [HOST, ...WEBSOCKET]), 1);
        expect([target, raw.slice(0, raw.indexOf('\r\n'))]).toEqual([target, 'HTTP/1.1 101 Switching Protocols']);
      }
    });

    it('a valid handshake still opens a socket, also after all of the above', async () => {
      const client = await GatewayClient.connect(cluster.url, { heartbeats: false });
      expect(client.messages[0]).toEqual({ n: 'core', op: 1, d: { heartbeatInterval: expect.any(String) } });
      client.close();
    });
  });

  describe('what Node answered itself without a body', () => {
    it('an HTTP/1.1 request without Host → 400 P2CORE_MALFORMED_REQUEST (cached route, unknown route, socket route); HTTP/1.0 needs none', async () => {
      for (const path of ['/.p2/core/v1/idcert/server', '/nowhere']) {
        const answer = await ask(head(`GET ${path} HTTP/1.1`, [['Connection', 'close']]));
        expectErrorAnswer(answer, 400, 'P2CORE_MALFORMED_REQUEST');
        expect([path, answer.body.message]).toEqual([path, 'An HTTP/1.1 request must carry a Host header.']);
      }
      expectErrorAnswer(await ask(head(`GET ${GATEWAY} HTTP/1.1`, [...WEBSOCKET])), 400, 'P2CORE_MALFORMED_REQUEST');
      expect((await ask(head('GET /.p2/core/v1/idcert/server HTTP/1.0', []))).status).toBe(200);
      const twoHosts = await ask(head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST, ['Host', 'evil.example'], ['Connection', 'close']]));
      expectErrorAnswer(twoHosts, 400, 'P2CORE_MALFORMED_REQUEST');
    });

    it('an Expect other than 100-continue → 417 P2CORE_EXPECTATION_FAILED; 100-continue still works', async () => {
      const weird = await ask(head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST, ['Expect', 'weird'], ['Connection', 'close']]));
      expectErrorAnswer(weird, 417, 'P2CORE_EXPECTATION_FAILED');
      const body = JSON.stringify({ actor_name: 'continued', auth_payload: { password } });
      const raw = await exchange(
        cluster.url,
        head('POST /.p2/core/v1/register HTTP/1.1', [HOST, ['Expect', '100-continue'], ['Content-Type', 'application/json'], ['Content-Length', String(body.length)], ['Connection', 'close']]) + body,
      );
      expect(raw.startsWith('HTTP/1.1 100 Continue\r\n\r\n')).toBe(true);
      expect(parseAnswer(raw.slice('HTTP/1.1 100 Continue\r\n\r\n'.length)).status).toBe(201);
    });
  });

  it('two X-P2-Sensitive-Solution headers → 400 (not one joined wrong password counting toward the lock-out); gzip, chunked and CONNECT → 501', async () => {
    const twice = await ask(
      head('DELETE /.p2/core/v1/session?session_id=x HTTP/1.1', [HOST, ['Authorization', 'Bearer whatever'], ['X-P2-Sensitive-Solution', password], ['X-P2-Sensitive-Solution', 'other'], ['Connection', 'close']]),
    );
    expectErrorAnswer(twice, 400, 'P2CORE_MALFORMED_REQUEST');
    expect(twice.body.message).toBe('The request carries more than one X-P2-Sensitive-Solution header.');
    const body = JSON.stringify({ actor_name: 'zipped', auth_payload: { password } });
    const chunk = `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
    const gzip = await ask(head('POST /.p2/core/v1/register HTTP/1.1', [HOST, ['Content-Type', 'application/json'], ['Transfer-Encoding', 'gzip, chunked']]) + chunk);
    expectErrorAnswer(gzip, 501, 'P2CORE_NOT_IMPLEMENTED');
    // nothing was registered from the bytes as read
    expect((await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'zipped', auth_payload: { password } } })).status).toBe(201);
    const connectAnswer = await ask(head('CONNECT 127.0.0.1:5432 HTTP/1.1', [['Host', '127.0.0.1:5432']]));
    expectErrorAnswer(connectAnswer, 501, 'P2CORE_NOT_IMPLEMENTED');
    // behind a request still being answered (a database read), after its answer, not in its place
    const behind = firstAnswer(
      await exchange(cluster.url, head('GET /.p2/core/v1/idcert/actor/nobody@example.com?timestamp=1 HTTP/1.1', [HOST]) + head('CONNECT 127.0.0.1:5432 HTTP/1.1', [['Host', '127.0.0.1:5432']])),
    );
    expectErrorAnswer(behind.first, 404, 'P2CORE_ACTOR_NOT_FOUND');
    expectErrorAnswer(parseAnswer(behind.rest), 501, 'P2CORE_NOT_IMPLEMENTED');
    expect((await http('GET', `${cluster.url}/healthz`)).status).toBe(200);
  });

  it('a connection with more than 32 requests waiting for their answers (pipelined) is answered 429 after the 32 and closed', async () => {
    const read = head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST]);
    const answers = (raw: string): Answer[] => {
      const all: Answer[] = [];
      for (let rest = raw; rest.length > 0; ) {
        const next = firstAnswer(rest);
        all.push(next.first);
        rest = next.rest;
      }
      return all;
    };
    // one write, so that the gateway takes all of them before it has answered any
    const flood = answers(await exchange(cluster.url, read.repeat(40)));
    expect(flood.slice(0, 32).map((answer) => answer.status)).toEqual(new Array(32).fill(200));
    expect(flood).toHaveLength(33);
    const refused = flood[32]!;
    expectErrorAnswer(refused, 429, 'P2CORE_RATE_LIMITED');
    expect([refused.headers.get('retry-after'), refused.headers.get('connection')]).toEqual(['1', 'close']);
    // 32 at once are fine, and so is the gateway for everyone else
    const lastCloses = head('GET /.p2/core/v1/idcert/server HTTP/1.1', [HOST, ['Connection', 'close']]);
    expect(answers(await exchange(cluster.url, read.repeat(31) + lastCloses)).map((answer) => answer.status)).toEqual(new Array(32).fill(200));
    expect((await http('GET', `${cluster.url}/.p2/core/v1/idcert/server`)).status).toBe(200);
  });

  it('more than one Authorization header → 400 P2CORE_MALFORMED_REQUEST, whichever comes first, on every route', async () => {
    expect((await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'twice', auth_payload: { password } } })).status).toBe(201);
    const csr = opensslCsr({ localName: 'twice', domain: 'example.com', sessionId: 'phone' });
    const trust = await http('POST', `${cluster.url}/.p2/core/v1/session/trust`, { json: { actor_name: 'twice', csr: csr.csrPem, auth_payload: { password } } });
    expect(trust.status).toBe(201);
    const valid = bearer(trust.body.token).authorization;
    expect([200, 204]).toContain((await http('GET', `${cluster.url}/.p2/core/v1/events`, { headers: bearer(trust.body.token) })).status);
    for (const [path, first, second] of [
      ['/.p2/core/v1/events', valid, 'Bearer bogus'],
      ['/.p2/core/v1/events', 'Bearer bogus', valid],
      ['/.p2/core/v1/idcert/server', valid, valid],
      ['/nowhere', valid, 'Bearer bogus'],
    ] as const) {
      const answer = await ask(head(`GET ${path} HTTP/1.1`, [HOST, ['Authorization', first], ['Authorization', second], ['Connection', 'close']]));
      expectErrorAnswer(answer, 400, 'P2CORE_MALFORMED_REQUEST');
      expect([path, first, answer.body.message]).toEqual([path, first, 'The request carries more than one Authorization header.']);
    }
  });
});

import { connect, type Socket } from 'node:net';
import { TestCluster } from './support/cluster';
import { http } from './support/http';

/** A raw TCP connection to a gateway that records what it received and whether it was closed. */
interface RawConnection {
  readonly socket: Socket;
  received(): string;
  closed(): boolean;
}

async function open(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  let closed = false;
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('close', () => (closed = true));
  socket.on('error', () => undefined); // a reset is one of the answers looked for
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => Buffer.concat(chunks).toString('latin1'), closed: () => closed };
}

async function until(condition: () => boolean, what: string, deadlineMs = 20000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${deadlineMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** The status line and the parsed body of the one answer written on a raw connection. */
function rawAnswer(received: string): { statusLine: string; body: unknown } {
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) throw new Error(`no complete answer: ${JSON.stringify(received)}`);
  return { statusLine: received.slice(0, received.indexOf('\r\n')), body: JSON.parse(received.slice(end + 4)) };
}

const TIMEOUT_ANSWER = {
  statusLine: 'HTTP/1.1 408 Request Timeout',
  body: { errcode: 408, error: 'P2CORE_REQUEST_TIMEOUT', message: 'The request was not received in time.' },
};

const HALF_BODY =
  'POST /.p2/core/v1/register HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"local_name":"slow';

describe('HTTP limits of the gateway: slow clients are cut off, connections are capped', () => {
  let cluster: TestCluster;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      label: 'httplimits',
      env: { P2_HTTP_HEADERS_TIMEOUT_MS: '300', P2_HTTP_REQUEST_TIMEOUT_MS: '600', P2_HTTP_KEEP_ALIVE_TIMEOUT_MS: '300' },
    });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('closes connections that sent half a body, with a 408', async () => {
    const slow = await Promise.all(Array.from({ length: 40 }, () => open(cluster.url)));
    for (const connection of slow) connection.socket.write(HALF_BODY);
    await until(() => slow.every((c) => c.closed()), 'every half-sent request closed');
    for (const connection of slow) expect(rawAnswer(connection.received())).toEqual(TIMEOUT_ANSWER);
    // the gateway still answers everyone else
    expect((await http('GET', `${cluster.url}/healthz/live`)).status).toBe(200);
  });

  it('closes connections whose headers never end, with a 408', async () => {
    const slow = await Promise.all(Array.from({ length: 10 }, () => open(cluster.url)));
    for (const connection of slow) connection.socket.write('GET /.p2/core/v1/idcert/server HTTP/1.1\r\nHost: example.com\r\nX-Slow: a');
    await until(() => slow.every((c) => c.closed()), 'every request without the end of its headers closed');
    for (const connection of slow) expect(rawAnswer(connection.received())).toEqual(TIMEOUT_ANSWER);
  });

  it('closes an idle kept-alive connection after its keep-alive timeout', async () => {
    const connection = await open(cluster.url);
    connection.socket.write('GET /healthz/live HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n');
    await until(() => connection.received().includes('\r\n\r\n'), 'the answer to the first request');
    expect(connection.received()).toMatch(/^HTTP\/1\.1 200 /);
    await until(() => connection.closed(), 'the idle connection closed');
  });

  it('refuses connections beyond P2_HTTP_MAX_CONNECTIONS and takes new ones when some close', async () => {
    const capped = await cluster.addGateway({ P2_HTTP_MAX_CONNECTIONS: '3', P2_HTTP_KEEP_ALIVE_TIMEOUT_MS: '60000' });
    // three kept-alive connections, each known to the server because each was answered
    const held: RawConnection[] = [];
    for (let i = 0; i < 3; i++) {
      const connection = await open(capped);
      connection.socket.write('GET /healthz/live HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive\r\n\r\n');
      await until(() => connection.received().includes('\r\n\r\n'), `the answer on held connection ${i}`);
      held.push(connection);
    }
    const refused = await open(capped);
    refused.socket.write('GET /healthz/live HTTP/1.1\r\nHost: example.com\r\n\r\n');
    await until(() => refused.closed(), 'the fourth connection closed');
    expect(refused.received()).toBe('');
    expect(held.every((c) => !c.closed())).toBe(true);

    held[0]!.socket.destroy();
    await until(() => held[0]!.closed(), 'the first held connection closed');
    // the server counts the closed connection out when it sees it close: retry until a new one is served
    const deadline = Date.now() + 20000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = await http('GET', `${capped}/healthz/live`, { headers: { connection: 'close' } }).then(
        (result) => result.status,
        () => 0,
      );
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    expect(status).toBe(200);
    for (const connection of held.slice(1)) connection.socket.destroy();
  });
});

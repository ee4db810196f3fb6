import { Logger, type INestApplicationContext } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { GatewayWsAdapter } from '../src/live-events/gateway-ws.adapter';

describe('GatewayWsAdapter: errors of a socket', () => {
  let server: WebSocketServer;
  let httpServer: Server;
  let warn: jest.SpyInstance;
  let error: jest.SpyInstance;

  beforeEach(async () => {
    httpServer = createServer();
    const app = { getHttpServer: () => httpServer } as unknown as INestApplicationContext & { getHttpServer(): Server };
    const adapter = new GatewayWsAdapter(app);
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 64 });
    await new Promise((resolve) => server.once('listening', resolve));
    adapter.bindErrorHandler(server);
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    error = jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    for (const client of server.clients) client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  const closeCodeAfter = async (send: (socket: WebSocket) => void): Promise<number> => {
    const socket = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    send(socket);
    return closed;
  };

  it('logs a frame over the size limit as a warning naming the refusal, not as an error', async () => {
    expect(await closeCodeAfter((socket) => socket.send('x'.repeat(65)))).toBe(1009);
    expect(error).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatch(/^a client's WebSocket frame was refused and its socket closed: WS_ERR_UNSUPPORTED_MESSAGE_LENGTH \(/);
    expect(String(warn.mock.calls[0]![0])).not.toMatch(/\n\s+at /);
  });

  it('logs a text frame that is not UTF-8 the same way (1007)', async () => {
    expect(await closeCodeAfter((socket) => socket.send(Buffer.from([0xc3, 0x28]), { binary: false }))).toBe(1007);
    expect(error).not.toHaveBeenCalled();
    expect(warn.mock.calls[0]![0]).toMatch(/WS_ERR_INVALID_UTF8/);
  });

  it('keeps an error of the server itself an error', () => {
    const failure = new Error('listen EADDRINUSE');
    server.emit('error', failure);
    expect(error).toHaveBeenCalledWith(failure);
    expect(warn).not.toHaveBeenCalled();
  });
});

describe('GatewayWsAdapter: upgrade requests', () => {
  let httpServer: Server;
  let port: number;

  beforeEach(async () => {
    httpServer = createServer((request, response) => response.end(`plain ${request.method} ${request.url}`));
    // the server itself stands for the application (Nest's adapter takes either), and answers getHttpServer too
    const adapter = new GatewayWsAdapter(Object.assign(httpServer, { getHttpServer: () => httpServer }) as never);
    adapter.create(0, { path: '/gw' });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = (httpServer.address() as AddressInfo).port;
  });

  afterEach(async () => {
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  });

  /** Writes `request` and reads until the server closes the connection. */
  const exchange = (request: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      socket.on('error', reject);
    });
  const connections = () => new Promise<number>((resolve, reject) => httpServer.getConnections((error, count) => (error ? reject(error) : resolve(count))));
  /** The server's side closes once the client's has (well before the 2 s it waits for a client that does not). */
  const allClosed = async () => {
    const deadline = Date.now() + 500;
    while ((await connections()) > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return connections();
  };
  const body = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4));

  it('hands a request with an Upgrade on another path to the request handler, then closes the connection', async () => {
    const answer = await exchange('GET /other?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n');
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer).toMatch(/\r\nConnection: close\r\n/);
    expect(answer.endsWith('\r\n\r\nplain GET /other?x=1')).toBe(true);
    expect(await allClosed()).toBe(0);
  });

  it('closes the socket of a client that never closes its side, after a short wait', async () => {
    const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => socket.write('GET /other HTTP/1.1\r\nHost: a\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n'));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // the client keeps its side open after the server's FIN
    await new Promise((resolve) => socket.once('end', resolve));
    expect(Buffer.concat(chunks).toString('latin1')).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(await connections()).toBe(1);
    const started = Date.now();
    while ((await connections()) > 0 && Date.now() - started < 5000) await new Promise((resolve) => setTimeout(resolve, 50));
    expect([await connections(), Date.now() - started]).toEqual([0, expect.any(Number)]);
    expect(Date.now() - started).toBeGreaterThan(1000);
    socket.destroy();
  });

  it('refuses one with a body (Node ends the request at its head): 400 with the error body', async () => {
    const answer = await exchange('POST /other HTTP/1.1\r\nHost: a\r\nUpgrade: foo\r\nConnection: Upgrade\r\nContent-Length: 5\r\n\r\nhello');
    expect(answer).toMatch(/^HTTP\/1\.1 400 Bad Request\r\nContent-Type: application\/json; charset=utf-8\r\nContent-Length: \d+\r\nConnection: close\r\n\r\n\{/);
    expect(body(answer)).toEqual({ errcode: 400, error: 'P2CORE_MALFORMED_REQUEST', message: expect.stringMatching(/Upgrade/) });
    expect(await allClosed()).toBe(0);
  });

  it('answers a bad Host, a refused handshake and a missing Host on the socket route with the error body', async () => {
    const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';
    for (const [request, status, extra] of [
      [`GET /gw HTTP/1.1\r\nHost: [\r\n${ws}Sec-WebSocket-Version: 13\r\n\r\n`, '400 Bad Request', ''],
      [`GET /gw/ HTTP/1.1\r\nHost: a\r\n${ws}Sec-WebSocket-Version: 7\r\n\r\n`, '400 Bad Request', 'Sec-WebSocket-Version: 13, 8\r\n'],
      [`GET /gw HTTP/1.1\r\n${ws}Sec-WebSocket-Version: 13\r\n\r\n`, '400 Bad Request', ''],
      [`PUT /gw HTTP/1.1\r\nHost: a\r\n${ws}Sec-WebSocket-Version: 13\r\n\r\n`, '405 Method Not Allowed', 'Allow: GET\r\n'],
    ] as const) {
      const answer = await exchange(request);
      expect([request, answer]).toEqual([
        request,
        expect.stringMatching(new RegExp(`^HTTP/1\\.1 ${status}\\r\\nContent-Type: application/json; charset=utf-8\\r\\nContent-Length: \\d+\\r\\n${extra}Connection: close\\r\\n\\r\\n\\{`)),
      ]);
      expect(body(answer).errcode).toBe(Number(status.slice(0, 3)));
    }
    expect(await allClosed()).toBe(0);
  });
});

import { Logger, type INestApplicationContext } from '@nestjs/common';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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

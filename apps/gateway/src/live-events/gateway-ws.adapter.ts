import { Logger } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { ServerResponse, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { WebSocket, WebSocketServer } from 'ws';
import { ERROR_CODE, type ErrorBody } from '@p2/contracts';
import { closeAfterAnswer, errorBody, EXPECTATION_FAILED, headerRefusal, refuseOnSocket, whenAnswered } from '../http/framework-errors';

/** The port Nest names the application's own HTTP server by. */
const APPLICATION_PORT = 0;

/**
 * Nest's `ws` adapter on the Fastify server, with these changes: its 'upgrade' listener is replaced
 * (docs/protocol.md#upgrades): a request with an Upgrade header on another path is answered as if it
 * had none, and a refused handshake on the socket route is answered with the error body; an upgrade
 * to a path with a trailing slash reaches the same socket route (every route of this server takes
 * one); Nest's own message dispatch is left out, since GatewayConnection reads the frames itself (no
 * per-socket subscription nobody uses); and a client's broken frame is a warning, not an error.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly socketLogger = new Logger('LiveEvents');

  /** Nest's listener destroys the socket of an upgrade to any other path (the client gets no answer
   * at all: `curl --http2` on any route, since Node hands every request with an Upgrade header to
   * 'upgrade' once there is a listener), and answers a Host it cannot parse with bytes that are no
   * HTTP response. */
  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    if (port !== APPLICATION_PORT || httpServer === undefined) return super.ensureHttpServerExists(port, httpServer);
    if (this.httpServersRegistry.has(port)) return undefined;
    this.httpServersRegistry.set(port, httpServer);
    httpServer.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(httpServer, request, socket as Socket, head));
    return httpServer;
  }

  private upgrade(server: Server, request: IncomingMessage, socket: Socket, head: Buffer): void {
    // Node took its own error listener off the socket when it handed it over: a reset would be an
    // uncaught error
    if (socket.listenerCount('error') === 0) socket.on('error', () => socket.destroy());
    // A request pipelined behind one whose answer is not finished: answering now would write into
    // that answer, or throw ERR_HTTP_SOCKET_ASSIGNED out of Node's parser and end the process.
    whenAnswered(socket, () => this.upgradeNow(server, request, socket, head));
  }

  private upgradeNow(server: Server, request: IncomingMessage, socket: Socket, head: Buffer): void {
    try {
      const { route, query } = targetOf(request.url ?? '/');
      const wsServer = (this.wsServersRegistry.get(APPLICATION_PORT) ?? []).find((candidate: { path: string }) => candidate.path === route) as
        | WebSocketServer
        | undefined;
      if (wsServer === undefined) return answerWithoutUpgrade(server, request, socket);
      const refusal = handshakeRefusal(request);
      if (refusal !== undefined) return refuseOnSocket(socket, refusal.body, refusal.headers);
      request.url = route + query;
      wsServer.handleUpgrade(request, socket, head, (ws) => wsServer.emit('connection', ws, request));
    } catch (error) {
      // whatever a client sends must not end the process (this runs in Node's parser callback)
      this.socketLogger.warn(`an upgrade request could not be answered: ${(error as Error).message}`);
      socket.destroy();
    }
  }

  override bindMessageHandlers(): void {
    // GatewayConnection handles every frame
  }

  /** ws reports a frame it will not read (over the size limit, a reserved bit, bad UTF-8, a bad
   * close code) as an error of that socket, which it closes with the matching code (1009, 1002,
   * 1007). That is the client's doing: Nest's adapter logged it as an error with a stack, which an
   * operator would read as a fault of the server and anyone could produce at will. The server's
   * own errors stay errors. A handshake ws refuses (an Upgrade other than websocket, a missing key,
   * an unknown version) is answered with the error body, where ws's own answer is text/html. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) => socket.on('error', (error) => this.socketError(error)));
    server.on('error', (error) => this.socketLogger.error(error));
    server.on('wsClientError', (error: Error, socket: Duplex, request: IncomingMessage) => {
      const version = Number(request.headers['sec-websocket-version']);
      refuseOnSocket(
        socket as Socket,
        errorBody(400, ERROR_CODE.malformedRequest, `The WebSocket handshake was refused: ${error.message}.`),
        // RFC 6455 §4.4: the versions the server speaks, for a client that asked for another
        version === 13 || version === 8 ? {} : { 'Sec-WebSocket-Version': '13, 8' },
      );
    });
    return server;
  }

  private socketError(error: Error & { code?: unknown }): void {
    if (typeof error.code === 'string' && error.code.startsWith('WS_ERR_')) {
      this.socketLogger.warn(`a client's WebSocket frame was refused and its socket closed: ${error.code} (${error.message})`);
    } else {
      this.socketLogger.error(error);
    }
  }
}

/** The path of a request target as the routes see it (absolute form and dot segments resolved, as
 * Nest's adapter did with URL; a trailing slash dropped) and its query; a target URL cannot read
 * is no route's (an empty route). */
function targetOf(url: string): { route: string; query: string } {
  let parsed: URL;
  try {
    parsed = new URL(url, 'ws://localhost/');
  } catch {
    return { route: '', query: '' };
  }
  const path = parsed.pathname;
  return { route: path.length > 1 ? path.replace(/\/+$/, '') : path, query: parsed.search };
}

/** What is refused of an upgrade to the socket route before ws looks at it: what every request is
 * refused for (headerRefusal), a Host that is no host (RFC 9112 §3.2), a method other than GET. */
function handshakeRefusal(request: IncomingMessage): { body: ErrorBody; headers?: Record<string, string> } | undefined {
  const refused = headerRefusal(request);
  if (refused !== undefined) return { body: refused };
  const host = request.headers.host;
  if (host !== undefined) {
    try {
      new URL(`ws://${host}/`);
    } catch {
      return { body: errorBody(400, ERROR_CODE.malformedRequest, 'The Host header is not a valid host.') };
    }
  }
  if (request.method !== 'GET') {
    return { body: errorBody(405, ERROR_CODE.methodNotAllowed, 'This route answers GET only.'), headers: { Allow: 'GET' } };
  }
  return undefined;
}

/**
 * A request with an Upgrade this server does not speak, on a path that is no socket route: answered
 * as if it had no Upgrade header (RFC 9110 §7.8 lets a server ignore it), by the same handler as every
 * request, on a response made for the socket Node handed over; the connection closes after it. Node's
 * parser stops at the end of the head of a request it hands to 'upgrade' (the request ends there,
 * empty), so a request with a body is refused rather than answered as if its body were empty.
 */
function answerWithoutUpgrade(server: Server, request: IncomingMessage, socket: Socket): void {
  const length = request.headers['content-length'];
  if ((length !== undefined && Number(length) !== 0) || request.headers['transfer-encoding'] !== undefined) {
    const message = 'This server does not switch protocols here and does not read the body of a request that asks to; send it without the Upgrade header.';
    return refuseOnSocket(socket, errorBody(400, ERROR_CODE.malformedRequest, message));
  }
  // Node's parser meets Expect only on requests it answers itself ('checkExpectation')
  const expectation = request.headers.expect;
  if (expectation !== undefined && expectation.toLowerCase() !== '100-continue') {
    return refuseOnSocket(socket, EXPECTATION_FAILED);
  }
  const response = new ServerResponse(request);
  response.assignSocket(socket);
  response.shouldKeepAlive = false;
  // the idle limit of the server's connections, whose listener Node took off with the socket
  if (server.timeout > 0) socket.setTimeout(server.timeout, () => socket.destroy());
  response.once('finish', () => {
    response.detachSocket(socket);
    closeAfterAnswer(socket);
    // as Node does for the answers it makes: what waits for 'close' (the in-flight gauge) hears it,
    // which detachSocket took off the socket
    process.nextTick(() => response.emit('close'));
  });
  server.emit('request', request, response);
}

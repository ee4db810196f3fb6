import { Logger, type INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage, Server } from 'node:http';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Nest's `ws` adapter on the Fastify server, with three changes: an upgrade to a path with a trailing
 * slash reaches the same socket route (every route of this server takes one), Nest's own
 * message dispatch is left out, since GatewayConnection reads the frames itself (no
 * per-socket subscription nobody uses), and a client's broken frame is a warning, not an error.
 */
export class GatewayWsAdapter extends WsAdapter {
  private readonly socketLogger = new Logger('LiveEvents');

  constructor(app: INestApplicationContext & { getHttpServer(): Server }) {
    super(app);
    app.getHttpServer().prependListener('upgrade', (request: IncomingMessage) => {
      const url = request.url ?? '/';
      const query = url.indexOf('?');
      const path = query === -1 ? url : url.slice(0, query);
      if (path.length > 1 && path.endsWith('/')) request.url = path.replace(/\/+$/, '') + (query === -1 ? '' : url.slice(query));
    });
  }

  override bindMessageHandlers(): void {
    // GatewayConnection handles every frame
  }

  /** ws reports a frame it will not read (over the size limit, a reserved bit, bad UTF-8, a bad
   * close code) as an error of that socket, which it closes with the matching code (1009, 1002,
   * 1007). That is the client's doing: Nest's adapter logged it as an error with a stack, which an
   * operator would read as a fault of the server and anyone could produce at will. The server's
   * own errors stay errors. */
  override bindErrorHandler(server: WebSocketServer): WebSocketServer {
    server.on('connection', (socket: WebSocket) => socket.on('error', (error) => this.socketError(error)));
    server.on('error', (error) => this.socketLogger.error(error));
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

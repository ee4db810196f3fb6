import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage, Server } from 'node:http';

/**
 * Nest's `ws` adapter on the Fastify server, with two changes: an upgrade to a path with a trailing
 * slash reaches the same socket route (every route of this server takes one), and Nest's own
 * message dispatch is left out, since GatewayConnection reads the frames itself (no
 * per-socket subscription nobody uses).
 */
export class GatewayWsAdapter extends WsAdapter {
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
}

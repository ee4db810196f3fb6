import { Inject, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import { ReadDatabase } from '../read-models/read-database';
import { ConnectionRegistry } from './connection-registry';
import { GatewayConnection, type ConnectionServices } from './gateway-connection';
import { InboxAcknowledger } from './inbox-acknowledger';
import { InboxPusher } from './inbox-pusher';
import { SocketAuthenticator } from './socket-authenticator';

/** The WebSocket route (docs/protocol.md#websocket). */
export const GATEWAY_PATH = '/.p2/core/v1/gateway';

/** Client messages are a few hundred bytes; a Heartbeat listing many exceptions stays far below this. */
const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024;

/** Sockets on the gateway's own HTTP port: every socket gets a {@link GatewayConnection}; one timer
 * checks heartbeats and identify deadlines of all of them. */
@WebSocketGateway({ path: GATEWAY_PATH, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false })
export class LiveEventsGateway implements OnGatewayConnection<WebSocket>, OnModuleInit, OnModuleDestroy {
  private readonly services: ConnectionServices;
  private sweeper?: NodeJS.Timeout;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly registry: ConnectionRegistry,
    @Inject(CLOCK) clock: Clock,
    db: ReadDatabase,
    pusher: InboxPusher,
    acknowledger: InboxAcknowledger,
    authenticator: SocketAuthenticator,
  ) {
    this.services = {
      config: config.liveEvents,
      registry,
      db,
      clock,
      pusher,
      acknowledger,
      logger: new Logger('LiveEvents'),
      beginIdentify: () => authenticator.beginIdentify(),
      authenticate: (token) => authenticator.authenticate(token),
      lookup: (tokenHash, options) => authenticator.lookup(tokenHash, options),
    };
  }

  onModuleInit(): void {
    const { heartbeatToleranceMs, identifyTimeoutMs } = this.services.config;
    const period = Math.max(25, Math.min(1000, Math.floor(Math.min(heartbeatToleranceMs, identifyTimeoutMs) / 4)));
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const connection of this.registry.connections()) connection.sweep(now);
    }, period);
    this.sweeper.unref();
  }

  /** Shutting down: every client is told to come back (1001, going away) and can resume elsewhere. */
  onModuleDestroy(): void {
    clearInterval(this.sweeper);
    for (const connection of [...this.registry.connections()]) connection.closeGoingAway();
  }

  handleConnection(socket: WebSocket): void {
    new GatewayConnection(socket, this.services).start();
  }
}

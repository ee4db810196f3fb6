import { Injectable } from '@nestjs/common';
import type { GatewayClose } from '@p2/polyproto';
import type { EncodedItem } from '@p2/read-models';

/** What the registry and the services around it use of one socket (a GatewayConnection): they
 * know sockets by this view only, so that the connection may use them without a cycle. */
export interface LiveConnection {
  readonly group?: SessionGroup;
  /** the identified session: its token's hash */
  readonly session?: { readonly tokenHash: string };
  /** Highest sequence number written to this socket. */
  readonly lastPushed: number;
  /** identified, open, and not waiting for its send queue to drain */
  readonly acceptsItems: boolean;
  deliver(items: readonly EncodedItem[]): void;
  /** The socket got everything there is for now. */
  caughtUp(): void;
  /** Runs `next` once the socket's send queue has drained. */
  afterDrain(next: () => void): void;
  /** Checks heartbeat and identify deadlines at `now` (ms). */
  sweep(now: number): void;
  /** Looks the socket's token up again (`fresh`: in PostgreSQL, not the token cache) and closes the
   * socket (4003) if it no longer authenticates; rejects if the lookup failed. */
  checkToken(options: { readonly fresh: boolean }): Promise<void>;
  close(close: GatewayClose, reason: string): void;
  /** The gateway is shutting down: the client may resume elsewhere. */
  closeGoingAway(): void;
}

/** The sockets of one session on this gateway. They share the session's inbox; what one of them
 * acknowledges is acknowledged for all (docs/protocol.md#websocket-ack). */
export class SessionGroup {
  readonly connections = new Set<LiveConnection>();
  /** Highest sequence number the certstore confirmed as acknowledged, as far as this gateway knows. */
  acknowledged = 0;
  /** Highest sequence number an acknowledgement was asked for (in flight or done). */
  requested = 0;
  acknowledging = false;

  constructor(
    readonly federationId: string,
    readonly sessionId: string,
  ) {}
}

/** Every open socket of this gateway, and the identified ones by actor and session. */
@Injectable()
export class ConnectionRegistry {
  private readonly open = new Set<LiveConnection>();
  private readonly byActor = new Map<string, Map<string, SessionGroup>>();

  add(connection: LiveConnection): void {
    this.open.add(connection);
  }

  /** The group the connection joins once identified; created with the session's acknowledged position. */
  join(connection: LiveConnection, federationId: string, sessionId: string, acknowledged: number): SessionGroup {
    let sessions = this.byActor.get(federationId);
    if (!sessions) this.byActor.set(federationId, (sessions = new Map()));
    let group = sessions.get(sessionId);
    if (!group) sessions.set(sessionId, (group = new SessionGroup(federationId, sessionId)));
    group.acknowledged = Math.max(group.acknowledged, acknowledged);
    group.requested = Math.max(group.requested, group.acknowledged);
    group.connections.add(connection);
    return group;
  }

  remove(connection: LiveConnection): void {
    this.open.delete(connection);
    const group = connection.group;
    if (!group) return;
    group.connections.delete(connection);
    if (group.connections.size > 0) return;
    const sessions = this.byActor.get(group.federationId);
    sessions?.delete(group.sessionId);
    if (sessions?.size === 0) this.byActor.delete(group.federationId);
  }

  session(federationId: string, sessionId: string): SessionGroup | undefined {
    return this.byActor.get(federationId)?.get(sessionId);
  }

  sessionsOfActor(federationId: string): SessionGroup[] {
    return [...(this.byActor.get(federationId)?.values() ?? [])];
  }

  allSessions(): SessionGroup[] {
    return [...this.byActor.values()].flatMap((sessions) => [...sessions.values()]);
  }

  connections(): IterableIterator<LiveConnection> {
    return this.open.values();
  }

  get size(): number {
    return this.open.size;
  }
}

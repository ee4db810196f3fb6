import { Injectable } from '@nestjs/common';
import type { GatewayConnection } from './gateway-connection';

/** The sockets of one session on this gateway. They share the session's inbox; what one of them
 * acknowledges is acknowledged for all (docs/protocol.md#websocket-ack). */
export class SessionGroup {
  readonly connections = new Set<GatewayConnection>();
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
  private readonly open = new Set<GatewayConnection>();
  private readonly byActor = new Map<string, Map<string, SessionGroup>>();

  add(connection: GatewayConnection): void {
    this.open.add(connection);
  }

  /** The group the connection joins once identified; created with the session's acknowledged position. */
  join(connection: GatewayConnection, federationId: string, sessionId: string, acknowledged: number): SessionGroup {
    let sessions = this.byActor.get(federationId);
    if (!sessions) this.byActor.set(federationId, (sessions = new Map()));
    let group = sessions.get(sessionId);
    if (!group) sessions.set(sessionId, (group = new SessionGroup(federationId, sessionId)));
    group.acknowledged = Math.max(group.acknowledged, acknowledged);
    group.requested = Math.max(group.requested, group.acknowledged);
    group.connections.add(connection);
    return group;
  }

  remove(connection: GatewayConnection): void {
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

  connections(): IterableIterator<GatewayConnection> {
    return this.open.values();
  }

  get size(): number {
    return this.open.size;
  }
}

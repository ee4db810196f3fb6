import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { isPayloadOmitted, type DomainEventType, type Message } from '@p2/contracts';
import { APP_CONFIG } from '@p2/platform';
import { GatewayEventsFeed } from '../events-feed/gateway-events.feed';
import { ConnectionRegistry, type SessionGroup } from './connection-registry';
import { InboxPusher } from './inbox-pusher';
import { SocketAuthenticator } from './socket-authenticator';

/** Who may have new inbox items after an event: mirrors what the session-inbox
 * projection queues for it (libs/read-models/src/session-inbox). */
const INBOX_AUDIENCE: Partial<Record<DomainEventType, 'actor' | 'session' | 'everyone'>> = {
  IdCertIssued: 'actor',
  IdCertInvalidated: 'actor',
  LastResortKeyPackageServed: 'session',
  ServerKeyRotated: 'everyone',
};

/** Events after which a session's token may be dead, or its cert another: its sockets look it up again. */
const TOKEN_CHECK_EVENTS: ReadonlySet<string> = new Set<DomainEventType>([
  'SessionLoggedOut',
  'SessionDeleted',
  'IdCertInvalidated',
  'IdCertRotated',
  'SessionIdentified',
  // foreign sessions (docs/protocol.md#foreign-sessions) use the socket too
  'ForeignIdCertInvalidated',
  'ForeignSessionLoggedOut',
  'ForeignSessionIdentified',
  // the token stays, the cert changes: a socket that kept the old cert's notAfter would close at its end
  'ForeignIdCertAnnounced',
]);

/**
 * Reacts to `p2.core.events.v1`, read from the gateway's events feed (newest offset, every event),
 * for the sockets connected to this gateway. The relay publishes only committed events, so the
 * inbox rows an event produced are already readable when it arrives.
 */
@Injectable()
export class EventsTopicListener {
  private readonly logger = new Logger('LiveEvents');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    feed: GatewayEventsFeed,
    private readonly registry: ConnectionRegistry,
    private readonly pusher: InboxPusher,
    private readonly authenticator: SocketAuthenticator,
  ) {
    feed.subscribe({
      onEvent: (event) => this.onEvent(event),
      onError: (error, event) => this.logger.error(`handling ${event.type} ${event.metadata.messageId} failed: ${(error as Error)?.message ?? error}`),
      onPositioned: () => this.caughtUp(),
    });
  }

  /** Back in the group and reading from the newest offset: what was published while this gateway was
   * not a member (or before its first fetch) was never heard. So every connected session's inbox is
   * read again, and every socket's token looked up in PostgreSQL: a logout meanwhile closes it. Done
   * once positioned, not at the join, so that no event falls between the reads and the first fetch. */
  private caughtUp(): void {
    this.authenticator.tokensMayHaveEnded();
    for (const group of this.registry.allSessions()) {
      this.pusher.markDirty(group);
      void this.authenticator.revalidate(group);
    }
  }

  private onEvent(event: Message): void {
    if (isPayloadOmitted(event.data)) return this.onOmitted(event);
    const data = event.data as { federationId?: unknown; sessionId?: unknown };
    const federationId = typeof data.federationId === 'string' ? data.federationId : undefined;
    const sessionId = typeof data.sessionId === 'string' ? data.sessionId : undefined;
    const session = federationId !== undefined && sessionId !== undefined ? this.registry.session(federationId, sessionId) : undefined;
    if (TOKEN_CHECK_EVENTS.has(event.type)) {
      // an Identify in flight has no socket in the group yet: it hears of the event this way
      this.authenticator.tokensMayHaveEnded(federationId !== undefined && sessionId !== undefined ? { federationId, sessionId } : undefined);
      if (session) void this.authenticator.revalidate(session);
    }
    switch (INBOX_AUDIENCE[event.type as DomainEventType]) {
      case 'actor':
        if (federationId !== undefined) this.markAll(this.registry.sessionsOfActor(federationId));
        return;
      case 'session':
        if (session) this.pusher.markDirty(session);
        return;
      case 'everyone':
        this.pusher.markSpread(this.registry.allSessions(), this.config.liveEvents.keyChangeSpreadMs);
        return;
      default:
        return;
    }
  }

  /** An event the relay published without its data (docs/architecture.md#oversized-events): whose
   * it was is unknown here, so it is taken as anyone's. Inboxes and tokens are read from PostgreSQL,
   * so every session gets what it is owed and no more; such an event is rare enough to afford it. */
  private onOmitted(event: Message): void {
    const everyone = this.registry.allSessions();
    if (TOKEN_CHECK_EVENTS.has(event.type)) {
      this.authenticator.tokensMayHaveEnded();
      for (const group of everyone) void this.authenticator.revalidate(group);
    }
    if (INBOX_AUDIENCE[event.type as DomainEventType]) this.pusher.markSpread(everyone, this.config.liveEvents.keyChangeSpreadMs);
  }

  private markAll(groups: readonly SessionGroup[]): void {
    for (const group of groups) this.pusher.markDirty(group);
  }
}

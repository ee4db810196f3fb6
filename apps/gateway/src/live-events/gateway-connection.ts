import type { LoggerService } from '@nestjs/common';
import type { RawData, WebSocket } from 'ws';
import type { LiveEventsConfig } from '@p2/config';
import type { Clock } from '@p2/platform';
import {
  GATEWAY_CLOSE,
  GATEWAY_OPCODE,
  gatewayCloseFor,
  isWithinValidity,
  parseClientMessage,
  PolyprotoError,
  ReceivedSequences,
  type ClientMessage,
  type GatewayClose,
  type HeartbeatPayload,
} from '@p2/polyproto';
import { inboxCursor, inboxItemsBySequence, type EncodedItem, type Reader } from '@p2/read-models';
import type { ConnectionRegistry, LiveConnection, SessionGroup } from './connection-registry';
import type { IdentifyWindow } from './identify-windows';
import type { InboxAcknowledger } from './inbox-acknowledger';
import type { InboxPusher } from './inbox-pusher';
import { serverMessages } from './server-messages';

/** The session a socket identified as: the bearer guard's lookup, plus when its certificate ends. */
export interface SocketSession {
  readonly federationId: string;
  readonly sessionId: string;
  readonly certSerial: string;
  readonly tokenHash: string;
  readonly notAfter: Date;
}

/** What a connection needs from the live-events module. */
export interface ConnectionServices {
  readonly config: LiveEventsConfig;
  readonly registry: ConnectionRegistry;
  /** the read models (the session's inbox) */
  readonly db: Reader;
  /** what certificate expiry is checked against (heartbeat deadlines keep real timers) */
  readonly clock: Clock;
  readonly pusher: InboxPusher;
  readonly acknowledger: InboxAcknowledger;
  readonly logger: LoggerService;
  /** Watches, from before an Identify's first lookup until its join, for events that may end a token. */
  beginIdentify(): IdentifyWindow;
  authenticate(token: string): Promise<SocketSession | undefined>;
  /** The session of the token with this SHA-256 now; `fresh` asks PostgreSQL, not the token cache. */
  lookup(tokenHash: string, options: { readonly fresh: boolean }): Promise<SocketSession | undefined>;
}

/** Client messages waiting to be handled on one socket; past this the socket stops reading, so a
 * client that writes faster than it is served is slowed by TCP rather than buffered. */
const MAX_INBOUND_BACKLOG = 16;

/**
 * One WebSocket: Hello, then Identify or Resume within the deadline, heartbeats, inbox items pushed
 * with their per-session sequence number. Client messages are handled one at a time, in order.
 * Nothing is buffered here: an item is written to the socket at once or not at all, and a socket
 * whose unsent data passes the bound is closed with a resumable code (docs/protocol.md#websocket-back-pressure).
 */
export class GatewayConnection implements LiveConnection {
  group?: SessionGroup;
  session?: SocketSession;
  /** Highest sequence number written to this socket. */
  lastPushed = 0;
  private received = new ReceivedSequences(0);
  private resuming = false;
  /** Set once the token stands at the join of the session's group (looked up again if an event may
   * have ended it meanwhile): only then are items pushed. */
  private identified = false;
  /** When the token was last found valid ({@link ConnectionServices.clock}, ms). */
  private tokenCheckedAt = 0;
  private closed = false;
  /** Messages handed to ws whose bytes the kernel has not taken yet. */
  private pending = 0;
  private drainWaiters: (() => void)[] = [];
  private inbound: Promise<void> = Promise.resolve();
  private inboundBacklog = 0;
  private readonly openedAt = Date.now();
  private lastHeartbeatAt = Date.now();
  private heartbeatRequested = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly services: ConnectionServices,
  ) {}

  start(): void {
    this.services.registry.add(this);
    this.socket.on('message', (data: RawData, isBinary: boolean) => {
      if (++this.inboundBacklog >= MAX_INBOUND_BACKLOG) this.socket.pause();
      this.inbound = this.inbound
        .then(() => this.receive(data, isBinary))
        .finally(() => {
          if (--this.inboundBacklog < MAX_INBOUND_BACKLOG && this.socket.isPaused) this.socket.resume();
        });
    });
    this.socket.on('close', () => this.dispose());
    this.send(serverMessages.hello(this.services.config.heartbeatIntervalMs));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Identified, open, and not waiting for earlier pages to drain: the pusher may write to it. */
  get acceptsItems(): boolean {
    return this.identified && !this.closed && this.drainWaiters.length === 0;
  }

  /** Writes the items after {@link lastPushed}, in order; stops if the socket is closed meanwhile. */
  deliver(items: readonly EncodedItem[]): void {
    for (const item of items) {
      if (item.s <= this.lastPushed) continue;
      if (!this.send(item.json)) return;
      this.lastPushed = item.s;
    }
  }

  /** Everything queued for the session has been written: a Resume is complete. */
  caughtUp(): void {
    if (!this.resuming || this.closed) return;
    this.resuming = false;
    this.send(serverMessages.resumed());
  }

  /** Runs `next` once everything written so far has left for the kernel (the next page of a backlog). */
  afterDrain(next: () => void): void {
    if (this.closed) return;
    if (this.pending === 0) setImmediate(next);
    else this.drainWaiters.push(next);
  }

  /** Periodic check (heartbeats, identify deadline), `now` in ms. */
  sweep(now: number): void {
    if (this.closed) return;
    const { identifyTimeoutMs, heartbeatIntervalMs, heartbeatToleranceMs } = this.services.config;
    if (!this.identified && now - this.openedAt > identifyTimeoutMs) {
      this.close(GATEWAY_CLOSE.notAuthenticated, `no Identify or Resume within ${identifyTimeoutMs} ms`);
      return;
    }
    const silence = now - this.lastHeartbeatAt;
    if (silence > heartbeatIntervalMs + 2 * heartbeatToleranceMs) {
      this.close(GATEWAY_CLOSE.timeout, 'no heartbeat in time');
    } else if (silence > heartbeatIntervalMs + heartbeatToleranceMs && !this.heartbeatRequested) {
      // 2025 §3.2.2: ask once before closing for a missed heartbeat
      this.heartbeatRequested = true;
      this.send(serverMessages.heartbeatRequest());
    }
  }

  async checkToken(options: { readonly fresh: boolean }): Promise<void> {
    const session = this.session;
    if (!session || this.closed) return;
    const at = this.services.clock.now();
    const found = await this.services.lookup(session.tokenHash, options);
    if (this.closed) return;
    if (!found) {
      const expired = !isWithinValidity({ notAfter: session.notAfter }, at);
      this.close(GATEWAY_CLOSE.notAuthenticated, expired ? 'the certificate of this session has expired' : 'the session token is no longer valid (logged out, deleted or re-certified)');
      return;
    }
    // the token is the same; its session's cert may not be: a foreign session keeps its token when it
    // announces a newer cert (docs/protocol.md#foreign-sessions), and that cert's notAfter counts now
    this.session = found;
    this.tokenCheckedAt = at.getTime();
  }

  /** Closes with a polyproto close code; the reason is cut to fit a close frame. */
  close(close: GatewayClose, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.socket.close(close.code, reason.slice(0, 120));
  }

  /** The gateway is stopping: 1001 (RFC 6455 "going away"); the client resumes on another gateway. */
  closeGoingAway(): void {
    if (this.closed) return;
    this.dispose();
    this.socket.close(1001, 'the gateway is shutting down; resume');
  }

  private dispose(): void {
    this.closed = true;
    this.drainWaiters = [];
    this.services.registry.remove(this);
  }

  private send(text: string): boolean {
    if (this.closed) return false;
    const { queueMaxMessages, queueMaxBytes } = this.services.config;
    if (this.pending >= queueMaxMessages || this.socket.bufferedAmount + Buffer.byteLength(text) > queueMaxBytes) {
      this.close(GATEWAY_CLOSE.timeout, 'slow consumer: the send queue is over its bound; resume');
      return false;
    }
    this.pending++;
    this.socket.send(text, () => {
      if (--this.pending > 0 || this.drainWaiters.length === 0) return;
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const next of waiters) next();
    });
    return true;
  }

  private async receive(data: RawData, isBinary: boolean): Promise<void> {
    if (this.closed) return;
    try {
      if (isBinary) {
        this.close(GATEWAY_CLOSE.invalidPayload, 'gateway messages are JSON text frames');
        return;
      }
      await this.handle(parseClientMessage(data.toString()));
    } catch (error) {
      if (error instanceof PolyprotoError) {
        this.close(gatewayCloseFor(error), error.message);
        return;
      }
      this.services.logger.error(`gateway connection failed: ${(error as Error)?.stack ?? error}`);
      this.close(GATEWAY_CLOSE.unknownError, 'internal error; resume');
    }
  }

  private async handle(message: ClientMessage): Promise<void> {
    switch (message.op) {
      case GATEWAY_OPCODE.heartbeat:
        return this.heartbeat(message.d);
      case GATEWAY_OPCODE.identify:
        return this.identify(message.d.token);
      case GATEWAY_OPCODE.resume:
        return this.identify(message.d.token, message.d.s);
      case GATEWAY_OPCODE.actorCertificateInvalidation:
        return;
      case GATEWAY_OPCODE.serviceChannel:
        if (!this.session) this.close(GATEWAY_CLOSE.notAuthenticated, 'identify first');
        else this.send(serverMessages.serviceChannelRefused(message.d.action, message.d.service));
        return;
    }
  }

  private async identify(token: string, resumeAfter?: number): Promise<void> {
    if (this.session) {
      this.close(GATEWAY_CLOSE.alreadyAuthenticated, 'this connection has already identified');
      return;
    }
    const window = this.services.beginIdentify();
    try {
      await this.identifyWithin(window, token, resumeAfter);
    } finally {
      // closed already at the join; an Identify that gave up before it ends its window here
      window.close();
    }
  }

  private async identifyWithin(window: IdentifyWindow, token: string, resumeAfter: number | undefined): Promise<void> {
    const lookedUpAt = this.services.clock.now();
    const session = await this.services.authenticate(token);
    if (this.closed) return;
    if (!session) {
      this.close(GATEWAY_CLOSE.invalidAuthentication, 'the session token is unknown, revoked or belongs to an invalid certificate');
      return;
    }
    const cursor = await inboxCursor(this.services.db, session.federationId, session.sessionId);
    if (this.closed) return;
    let start = cursor.fetchedUpTo;
    if (resumeAfter !== undefined) {
      // items up to fetchedUpTo were acknowledged and deleted; numbers past lastSeq were never sent
      if (resumeAfter < cursor.fetchedUpTo || resumeAfter > cursor.lastSeq) {
        this.close(GATEWAY_CLOSE.unresumable, `cannot resume after ${resumeAfter}: the inbox holds ${cursor.fetchedUpTo + 1}..${cursor.lastSeq}; identify`);
        return;
      }
      start = resumeAfter;
      this.resuming = true;
    }
    this.session = session;
    this.received = new ReceivedSequences(start);
    this.lastPushed = start;
    this.group = this.services.registry.join(this, session.federationId, session.sessionId, cursor.fetchedUpTo);
    // An event that ends the token finds this socket from now on. One handled while the lookup or
    // the cursor read was in flight found no socket to check, but the window heard it (so did any
    // forgetting of the token cache, which may have answered the lookup): then the token is looked
    // up again, in PostgreSQL, which sees what the event changed since the relay publishes only
    // committed events. So is a cert that ended meanwhile. Otherwise the first lookup stands.
    const missed = window.close(session.federationId, session.sessionId);
    if (missed || !isWithinValidity({ notAfter: session.notAfter }, this.services.clock.now())) {
      const confirmed = await this.services.lookup(session.tokenHash, { fresh: true });
      if (this.closed) return;
      if (!confirmed) {
        this.close(GATEWAY_CLOSE.invalidAuthentication, 'the session token was revoked or its certificate invalidated during Identify');
        return;
      }
      this.session = confirmed;
      this.tokenCheckedAt = this.services.clock.now().getTime();
    } else {
      this.tokenCheckedAt = lookedUpAt.getTime();
    }
    this.identified = true;
    // a Resume states that everything up to `s` arrived: as good as a heartbeat saying so
    if (resumeAfter !== undefined) this.services.acknowledger.request(this.group, resumeAfter);
    this.services.pusher.markDirty(this.group);
  }

  private async heartbeat(d: HeartbeatPayload): Promise<void> {
    this.lastHeartbeatAt = Date.now();
    this.heartbeatRequested = false;
    const outcome = this.received.apply(d, this.lastPushed);
    const { session, group } = this;
    if (!session || !group || !this.identified) {
      this.send(serverMessages.heartbeatAck([]));
      return;
    }
    const now = this.services.clock.now();
    // Past the cert's notAfter the token lookup decides, since a foreign session's cert may have
    // been replaced meanwhile. Every tokenCheckIntervalMs it is looked up anyway: a safety net
    // for an event that ended the token and never reached this gateway (docs/architecture.md#live-events).
    if (!isWithinValidity({ notAfter: session.notAfter }, now) || now.getTime() - this.tokenCheckedAt >= this.services.config.tokenCheckIntervalMs) {
      await this.checkToken({ fresh: false });
      if (this.closed) return;
    }
    this.services.acknowledger.request(group, outcome.confirmedUpTo);
    const items = await inboxItemsBySequence(this.services.db, session.federationId, session.sessionId, outcome.resend);
    this.send(serverMessages.heartbeatAck(items));
  }
}

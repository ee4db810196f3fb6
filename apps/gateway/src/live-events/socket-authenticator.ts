import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { SessionLookup } from '../auth/session-lookup';
import { hashToken } from '../auth/session-token';
import { TokenCache } from '../read-cache/token-cache';
import type { SessionGroup } from './connection-registry';
import type { SocketSession } from './gateway-connection';
import { IdentifyWindows, type IdentifyWindow } from './identify-windows';

/** A failed check of a session's sockets is tried again this much later, doubled per failure up to
 * {@link RETRY_MAX_MS}: the event that asked for it comes only once. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 30_000;

/** Token checks for sockets: the bearer guard's lookup (SHA-256 of the token, a certificate that is
 * neither invalidated nor expired), at Identify and again whenever an event may have ended a token. */
@Injectable()
export class SocketAuthenticator implements OnModuleDestroy {
  private readonly logger = new Logger('LiveEvents');
  /** One pending retry per session group: every token event and every rejoin of the events feed
   * checks a group, and during a database outage each failure starting its own timer chain gave N
   * chains that all fired together once PostgreSQL was back. */
  private readonly retries = new Map<SessionGroup, NodeJS.Timeout>();
  /** A check still awaiting PostgreSQL at shutdown must not schedule a timer past it. */
  private destroyed = false;
  private readonly identifies = new IdentifyWindows();

  constructor(
    private readonly sessions: SessionLookup,
    tokens: TokenCache,
  ) {
    // a lookup the cache answered just before it forgot the session may be stale: whatever made it
    // forget (an event, a command's reply, the events feed leaving or rejoining) counts
    tokens.onForget((session) => this.tokensMayHaveEnded(session));
  }

  /** Called before an Identify's first token lookup; the window closes at its join and tells
   * whether the token must be looked up again (docs/architecture.md#live-events). */
  beginIdentify(): IdentifyWindow {
    return this.identifies.begin();
  }

  /** An event may have ended the tokens of this session (no session: of any). The sockets already
   * in its group are checked by {@link revalidate}; an Identify in flight, not in the group yet,
   * looks its token up again once joined. */
  tokensMayHaveEnded(session?: { readonly federationId: string; readonly sessionId: string }): void {
    if (session) this.identifies.heardSession(session.federationId, session.sessionId);
    else this.identifies.heardEveryone();
  }

  /** Sessions of other home servers' actors may use the socket too: it is the live form of
   * GET /events (docs/protocol.md#foreign-sessions). */
  authenticate(token: string): Promise<SocketSession | undefined> {
    return this.lookup(hashToken(token), { fresh: false });
  }

  async lookup(tokenHash: string, options: { readonly fresh: boolean }): Promise<SocketSession | undefined> {
    const session = await this.sessions.byTokenHash(tokenHash, options);
    if (!session) return undefined;
    const { federationId, sessionId, certSerial, certNotAfter } = session;
    return { federationId, sessionId, certSerial, tokenHash, notAfter: certNotAfter };
  }

  /** Closes the session's sockets whose token no longer authenticates (logout, deleted session,
   * rotated or invalidated certificate, a new token from identify): 4003, not resumable. The others
   * take their session's current cert (a foreign session's announced one). If PostgreSQL could not
   * be asked, the check runs again later, until it went through or the sockets are gone. */
  async revalidate(group: SessionGroup, failures = 0): Promise<void> {
    const results = await Promise.allSettled([...group.connections].map((connection) => connection.checkToken({ fresh: true })));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (!failed) return;
    if (this.destroyed || this.retries.has(group)) return;
    const delay = Math.min(RETRY_FIRST_MS * 2 ** Math.min(failures, 16), RETRY_MAX_MS);
    this.logger.error(`checking the tokens of a session's sockets failed, trying again in ${delay} ms: ${(failed.reason as Error)?.message ?? failed.reason}`);
    const timer = setTimeout(() => {
      this.retries.delete(group);
      void this.revalidate(group, failures + 1);
    }, delay);
    // a retry is no reason to keep the process up
    timer.unref();
    this.retries.set(group, timer);
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }
}

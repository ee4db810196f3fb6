import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { SessionLookup } from '../auth/session-lookup';
import { hashToken } from '../auth/session-token';
import type { SessionGroup } from './connection-registry';
import type { SocketSession } from './gateway-connection';

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

  constructor(private readonly sessions: SessionLookup) {}

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

import { Injectable, Logger } from '@nestjs/common';
import { GATEWAY_CLOSE } from '@p2/polyproto';
import { SessionLookup } from '../auth/session-lookup';
import { hashToken } from '../auth/session-token';
import type { SessionGroup } from './connection-registry';
import type { SocketSession } from './gateway-connection';

/** Token checks for sockets: the bearer guard's lookup (SHA-256 of the token, a certificate that is
 * neither invalidated nor expired), at Identify and again whenever an event may have ended a token. */
@Injectable()
export class SocketAuthenticator {
  private readonly logger = new Logger('LiveEvents');

  constructor(private readonly sessions: SessionLookup) {}

  /** Sessions of other home servers' actors may use the socket too: it is the live form of
   * GET /events (docs/protocol.md#foreign-sessions). */
  async authenticate(token: string): Promise<SocketSession | undefined> {
    const session = await this.sessions.byTokenHash(hashToken(token));
    if (!session) return undefined;
    const { federationId, sessionId, certSerial, tokenHash, certNotAfter } = session;
    return { federationId, sessionId, certSerial, tokenHash, notAfter: certNotAfter };
  }

  /** Closes the session's sockets whose token no longer authenticates (logout, deleted session,
   * rotated or invalidated certificate, a new token from identify): 4003, not resumable. */
  async revalidate(group: SessionGroup): Promise<void> {
    for (const connection of [...group.connections]) {
      const tokenHash = connection.session?.tokenHash;
      if (tokenHash === undefined) continue;
      try {
        if (await this.sessions.byTokenHash(tokenHash, { fresh: true })) continue;
        connection.close(GATEWAY_CLOSE.notAuthenticated, 'the session token is no longer valid (logged out, deleted or re-certified)');
      } catch (error) {
        this.logger.error(`checking a socket's token failed: ${(error as Error).message}`);
      }
    }
  }
}

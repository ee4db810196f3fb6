import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@p2/platform';
import { sessionByTokenHash } from '@p2/read-models';
import { ReadDatabase } from '../read-models/read-database';
import type { AuthenticatedSession } from './authenticated-session';

/** Who a token belongs to, for the bearer guard and the WebSocket gateway alike. */
@Injectable()
export class SessionLookup {
  constructor(
    private readonly db: ReadDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The session of the token with this SHA-256, if its certificate is valid now and not
   * invalidated (docs/protocol.md#session-tokens). */
  async byTokenHash(tokenHash: string): Promise<AuthenticatedSession | undefined> {
    const found = await sessionByTokenHash(this.db.prepared, tokenHash, this.clock.now());
    return found && { ...found, tokenHash };
  }
}

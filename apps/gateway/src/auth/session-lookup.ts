import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '@p2/platform';
import { sessionsByTokenHashes, LOOKUPS_PER_STATEMENT, type TokenLookup, type TokenSession } from '@p2/read-models';
import { TokenCache } from '../read-cache/token-cache';
import { LookupBatcher } from '../read-models/lookup-batcher';
import { ReadDatabase } from '../read-models/read-database';
import type { AuthenticatedSession } from './authenticated-session';

/** Who a token belongs to, for the bearer guard and the WebSocket gateway alike. */
@Injectable()
export class SessionLookup {
  /** the lookups the token cache could not answer, of concurrent requests together (docs/architecture.md#token-lookups) */
  private readonly batcher: LookupBatcher<TokenLookup, TokenSession | undefined>;

  constructor(
    db: ReadDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly cache: TokenCache,
  ) {
    this.batcher = new LookupBatcher((lookups) => sessionsByTokenHashes(db.prepared, lookups), LOOKUPS_PER_STATEMENT);
  }

  /** The session of the token with this SHA-256, if its certificate is valid now and not
   * invalidated (docs/protocol.md#session-tokens). Answers may come from the token cache; `fresh`
   * asks the database (a check triggered by an event, which the cache may not have seen yet). */
  async byTokenHash(tokenHash: string, options: { fresh?: boolean } = {}): Promise<AuthenticatedSession | undefined> {
    const now = this.clock.now();
    const cached = options.fresh ? undefined : this.cache.lookup(tokenHash, now);
    if (cached) return { ...cached, tokenHash };
    const ticket = this.cache.beginFill();
    const found = await this.batcher.lookup({ tokenHash, now });
    if (found && ticket) this.cache.store(ticket, tokenHash, found, now);
    return found && { ...found, tokenHash };
  }
}

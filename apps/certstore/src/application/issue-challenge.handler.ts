import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { challengeStream, type IssueChallenge, type IssueChallengeData, type ResultOf } from '@p2/contracts';
import { challengeDecider } from '@p2/domain';
import { APP_CONFIG } from '@p2/platform';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

/** GET /challenge: records the challenge string the gateway drew, with an expiry from this
 * certstore's clock and P2_CHALLENGE_TTL_SECONDS (rounded up to whole seconds, so a challenge
 * lives at least the TTL). */
@Injectable()
export class IssueChallengeHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: AggregateStore,
  ) {}

  async execute(data: IssueChallengeData, ctx: CommandContext): Promise<ResultOf<IssueChallenge>> {
    const { challenge, boundFederationId, boundSessionId } = data;
    const expires = Math.ceil(ctx.at.getTime() / 1000) + this.config.challengeTtlSeconds;
    await this.store.handle(
      challengeDecider,
      challengeStream(challenge),
      {
        type: 'IssueChallenge',
        challenge,
        expiresAt: new Date(expires * 1000),
        ...(boundFederationId === undefined ? {} : { boundFederationId }),
        ...(boundSessionId === undefined ? {} : { boundSessionId }),
        at: ctx.at,
      },
      ctx,
    );
    return { type: 'ChallengeIssued', challenge, expires };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import type { CommandResult } from '@p2/contracts';
import { challengeDecider } from '@p2/domain';
import { parseFederationId, validateSessionId } from '@p2/polyproto';
import { APP_CONFIG } from '../config/config.tokens';
import { optionalString, requireChallenge } from './challenge-command-fields';
import { ChallengeRepository } from './challenge.repository';
import type { CommandContext } from './command-context';

/** GET /challenge (R8): records the challenge string the gateway drew, with an expiry from this
 * certstore's clock and P2_CHALLENGE_TTL_SECONDS (rounded up to whole seconds, so a challenge
 * lives at least the TTL). */
@Injectable()
export class IssueChallengeHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly challenges: ChallengeRepository,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const challenge = requireChallenge(data);
    const boundFid = optionalString(data, 'boundFederationId');
    const boundSession = optionalString(data, 'boundSessionId');
    const expires = Math.ceil(ctx.at.getTime() / 1000) + this.config.challengeTtlSeconds;
    const loaded = await this.challenges.load(ctx.manager, challenge);
    const events = challengeDecider.decide(
      {
        type: 'IssueChallenge',
        challenge,
        expiresAt: new Date(expires * 1000),
        ...(boundFid === undefined ? {} : { boundFederationId: parseFederationId(boundFid).toString() }),
        ...(boundSession === undefined ? {} : { boundSessionId: validateSessionId(boundSession) }),
        at: ctx.at,
      },
      loaded.state,
    );
    await this.challenges.append(ctx, loaded, events);
    return { type: 'ChallengeIssued', challenge, expires };
  }
}

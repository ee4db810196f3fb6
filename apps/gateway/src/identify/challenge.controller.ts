import { Controller, Get, Inject, Ip, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ChallengeRequestDto } from './challenge.request.dto';
import { ApiRateLimited } from '../http/api-responses';
import { ChallengeSigner } from './signed-challenge';
import { GetOnly } from '../http/get-only.guard';

@ApiTags('identify')
@Controller('.p2/core/v1')
export class ChallengeController {
  constructor(
    private readonly signer: ChallengeSigner,
    private readonly limits: RateLimiter,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Issuing a challenge writes nothing and asks no other process: the string states its expiry
   * and binding under the gateways' key, and only its use is recorded (docs/protocol.md#challenge-strings).
   * Every call draws a new challenge, so no Idempotency-Key; and counts against the address's rate
   * limit, so a HEAD (answered like a GET without its body) would spend the limit on challenges
   * nobody sees: refused (GetOnly). */
  @Get('challenge')
  @GetOnly()
  @ApiOperation({
    summary:
      'A challenge string: 64 characters [A-Za-z0-9] with each class present, signed by this server, single use, valid until `expires` (UNIX seconds, now + P2_CHALLENGE_TTL_SECONDS, default 300). Optional `fid` / `session_id` bind it to one actor / session.',
  })
  @ApiResponse({ status: 200, schema: { example: { challenge: 'aZ3…(64 characters)', expires: 1764300300 } } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST (fid or session_id malformed)' })
  @ApiRateLimited()
  challenge(@Query() request: ChallengeRequestDto, @Ip() address: string): { challenge: string; expires: number } {
    const { fid: boundFederationId, session_id: boundSessionId } = request;
    this.limits.check('challenge', address, boundFederationId);
    // rounded up, so a challenge lives at least the TTL
    const expires = Math.ceil(this.clock.now().getTime() / 1000) + this.config.challengeTtlSeconds;
    const challenge = this.signer.issue(expires, {
      ...(boundFederationId ? { boundFederationId } : {}),
      ...(boundSessionId ? { boundSessionId } : {}),
    });
    return { challenge, expires };
  }
}

import { Controller, Get, Ip, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { newCommand } from '@p2/contracts';
import { CommandSender } from '../messaging/command-sender.service';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ChallengeRequestDto } from './challenge.request.dto';
import { randomChallenge } from './challenge-string';
import { ApiRateLimited, ApiSendsCommand } from '../http/api-responses';

@ApiTags('identify')
@Controller('.p2/core/v1')
export class ChallengeController {
  constructor(
    private readonly commands: CommandSender,
    private readonly limits: RateLimiter,
  ) {}

  /** Issuing a challenge is a write (it is server-side state, single use): the certstore records
   * it on the challenge's own stream. Every call draws a new challenge, so no Idempotency-Key. */
  @Get('challenge')
  @ApiOperation({
    summary:
      'A challenge string: 64 characters [A-Za-z0-9] with each class present, single use, valid until `expires` (UNIX seconds, now + P2_CHALLENGE_TTL_SECONDS, default 300). Optional `fid` / `session_id` bind it to one actor / session.',
  })
  @ApiResponse({ status: 200, schema: { example: { challenge: 'aZ3…(64 characters)', expires: 1764300300 } } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST (fid or session_id malformed)' })
  @ApiRateLimited()
  @ApiSendsCommand()
  async challenge(@Query() request: ChallengeRequestDto, @Ip() address: string): Promise<{ challenge: string; expires: number }> {
    const { fid: boundFederationId, session_id: boundSessionId } = request;
    this.limits.check('challenge', address, boundFederationId);
    const challenge = randomChallenge();
    const result = await this.commands.send(
      newCommand(
        'IssueChallenge',
        { challenge, ...(boundFederationId ? { boundFederationId } : {}), ...(boundSessionId ? { boundSessionId } : {}) },
        this.commands.commandId('challenge', '', undefined),
      ),
    );
    return { challenge: result.challenge, expires: result.expires };
  }
}

import { Body, Controller, Headers, HttpCode, Inject, Ip, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { CHALLENGE_REFUSAL, challengeRefusal } from '@p2/domain';
import { CLOCK, type Clock } from '@p2/platform';
import { ed25519VerifyStrict, isWithinValidity } from '@p2/polyproto';
import { hashToken, SessionTokens } from '../auth/session-token';
import { ApiError } from '../http/api-error';
import { CommandSender } from '../messaging/command-sender.service';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ChallengeSigner, isChallengeShaped } from './signed-challenge';
import { ForeignCertVerifier } from '../federation/foreign-cert.verifier';
import { completedChallengeOf, IdentifyRequestDto } from './identify.request.dto';
import { PresentedIdCerts, type PresentedActorCert } from './presented-id-cert';
import { ApiRateLimited, ApiSendsCommand } from '../http/api-responses';

const challengeFailed = (message: string) => new ApiError(401, ERROR_CODE.challengeFailed, message);

@ApiTags('identify')
@Controller('.p2/core/v1/session')
export class IdentifyController {
  constructor(
    private readonly commands: CommandSender,
    private readonly tokens: SessionTokens,
    private readonly presented: PresentedIdCerts,
    private readonly signer: ChallengeSigner,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly foreignCerts: ForeignCertVerifier,
    private readonly limits: RateLimiter,
  ) {}

  /**
   * First pass without writing, in the order of docs/protocol.md#identify (cert, then invalidation, then the
   * challenge: its own signature by this cluster, expiry, binding, then the client's signature over it); the
   * certstore decides again at handling time and records the challenge as used in the same
   * transaction that gives the cert its new token. Single use is the certstore's alone to decide:
   * a used challenge is refused there, so a retry with the Idempotency-Key of the request that used
   * it is answered with that request's outcome.
   */
  @Post('identify')
  @HttpCode(201)
  @ApiOperation({
    summary:
      "Identify: prove possession of a session's key by signing a challenge from GET /challenge. Returns the token of that cert; any previous token of the cert dies (one live token per cert). A cert of another home server's actor is checked with its home server and gives a foreign session (docs/protocol.md#foreign-sessions).",
  })
  @ApiResponse({ status: 201, schema: { example: { token: 'base64url' } } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_CERT (unparsable, not a cert this server issued, or not one its home server published a root for) or P2CORE_MALFORMED_REQUEST (missing fields, undecodable signature)' })
  @ApiResponse({ status: 401, description: 'P2CORE_CHALLENGE_FAILED (not issued by this server, expired, used, bound to another actor/session, or bad signature)' })
  @ApiResponse({ status: 403, description: "P2CORE_CERT_INVALIDATED (invalidated here or by its home server, expired, not listed by its home server, or no longer the session's current cert)" })
  @ApiResponse({ status: 404, description: 'P2CORE_NOT_FEDERATED (a foreign cert whose home server cannot be asked and has not vouched for it within the cache window, or federation is off)' })
  @ApiRateLimited('too many sign-ins from the address or naming the actor (P2_RATE_LIMIT_IDENTIFY)')
  @ApiSendsCommand()
  async identify(@Body() request: IdentifyRequestDto, @Ip() address: string, @Headers('idempotency-key') idempotencyKey?: string): Promise<{ token: string }> {
    const { challenge, signature } = completedChallengeOf(request);
    const cert = this.presented.parse(request.id_cert);
    this.limits.check('identify', address, cert.federationId.toString());
    const now = this.clock.now();
    const foreign = this.presented.isForeign(cert);
    // A foreign cert is checked with its home server only after the challenge and its signature:
    // asking another server is the costly step, kept for callers that hold the session's key
    // (docs/protocol.md#identify).
    const serial = foreign ? cert.serial.toString() : await this.checkIssuedHere(cert, now);

    const federationId = cert.federationId.toString();
    const sessionId = cert.sessionId;
    const terms = isChallengeShaped(challenge) ? this.signer.read(challenge, { federationId, sessionId }) : undefined;
    if (!terms) throw challengeFailed(CHALLENGE_REFUSAL.notIssued);
    const refusal = challengeRefusal(terms, now);
    if (refusal) throw challengeFailed(refusal);
    if (!ed25519VerifyStrict(cert.publicKey, Buffer.from(challenge, 'utf8'), signature)) throw challengeFailed(CHALLENGE_REFUSAL.badSignature);
    const vouchedAt = foreign ? await this.foreignCerts.vouch(cert, now) : undefined;

    const commandId = this.commands.commandId(`session/identify/${challenge}`, federationId, idempotencyKey);
    const token = this.tokens.tokenFor(`session/identify/${challenge}`, federationId, idempotencyKey);
    const data = { federationId, sessionId, serial, challenge, challengeExpires: terms.expires, signature: Buffer.from(signature).toString('hex'), tokenHash: hashToken(token) };
    await this.commands.send(
      foreign ? newCommand('IdentifyForeignSession', { ...data, ...(vouchedAt === undefined ? {} : { vouchedAt }) }, commandId) : newCommand('IdentifySession', data, commandId),
    );
    return { token };
  }

  /** A cert of this server: the one it issued, byte for byte, not invalidated and valid now. */
  private async checkIssuedHere(cert: PresentedActorCert, now: Date): Promise<string> {
    const record = await this.presented.issuedHere(cert);
    if (record.invalidatedAt !== null || !isWithinValidity(record, now)) {
      throw new ApiError(403, ERROR_CODE.certInvalidated, `The ID-Cert ${record.serial} is invalidated or outside its validity.`);
    }
    return record.serial;
  }
}

import { Body, Controller, Headers, HttpCode, Ip, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { isNewerForeignCert } from '@p2/domain';
import { currentForeignIdCert } from '@p2/read-models';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard, ForeignSessionsAllowed } from '../auth/bearer-auth.guard';
import { ForeignCertVerifier } from '../federation/foreign-cert.verifier';
import { ApiError } from '../http/api-error';
import { RawBodyAs } from '../http/lenient-body';
import { CommandSender } from '../messaging/command-sender.service';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ReadDatabase } from '../read-models/read-database';
import { ExternIdCertRequestDto } from './extern-id-cert.request.dto';
import { PresentedIdCerts, type PresentedActorCert } from './presented-id-cert';
import { ApiAuthenticated, ApiRateLimited, ApiSendsCommand } from '../http/api-responses';

const ROUTE_DOC = {
  summary:
    "Announce the calling session's new ID-Cert. A foreign session's newer cert, vouched for by its home server, replaces the one it signed in with; the token stays valid. For this server's own actors the cert was recorded when it was issued, so the announcement is only checked: it must be the calling session's current cert.",
};

const RATE_LIMITED = 'too many announcements from the address or of the calling actor (P2_RATE_LIMIT_IDENTIFY, counted apart from sign-ins)';

/**
 * docs/protocol.md#route-idcert-extern. For this server's own actors it is read-only on purpose, no command: the certs they can
 * announce were issued here and are already in the log (IdCertIssued / IdCertRotated). For a
 * foreign session (docs/protocol.md#foreign-sessions) it is what the route is for: the newer cert
 * is checked with the actor's home server and becomes the session's current one (a command).
 */
@ApiTags('sessions')
@ApiBearerAuth()
@ForeignSessionsAllowed()
@Controller('.p2/core/v1/session')
export class ExternIdCertController {
  constructor(
    private readonly presented: PresentedIdCerts,
    private readonly foreignCerts: ForeignCertVerifier,
    private readonly commands: CommandSender,
    private readonly db: ReadDatabase,
    private readonly limits: RateLimiter,
  ) {}

  @Put('idcert/extern')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard)
  @ApiOperation(ROUTE_DOC)
  @RawBodyAs('id_cert')
  @ApiResponse({ status: 201, description: 'no body' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_CERT (unparsable, or not a cert this server issued)' })
  @ApiAuthenticated()
  @ApiResponse({ status: 403, description: "P2CORE_SESSION_MISMATCH (another actor's or session's cert) or P2CORE_CERT_INVALIDATED (an older cert of this session, or one its home server invalidated)" })
  @ApiResponse({ status: 404, description: 'P2CORE_NOT_FEDERATED (a foreign cert whose home server cannot be asked)' })
  @ApiRateLimited(RATE_LIMITED)
  @ApiSendsCommand()
  async announce(
    @CurrentSession() session: AuthenticatedSession,
    @Body() request: ExternIdCertRequestDto,
    @Ip() address: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    // Limited first: a foreign session's announcement makes this server ask the actor's home
    // server as a sign-in does, and a caller that sends its current serial, or a new notBefore each
    // time, would otherwise have it asked without end. With identify's numbers, but not its
    // buckets: identify charges the actor a presented cert names before any signature is checked,
    // so anyone could empty that bucket and block the actor's announcements (docs/protocol.md#rate-limits).
    this.limits.check('extern', address, session.federationId);
    const cert = this.presented.parse(request.id_cert);
    if (cert.federationId.toString() !== session.federationId || cert.sessionId !== session.sessionId) {
      throw new ApiError(
        403,
        ERROR_CODE.sessionMismatch,
        `The ID-Cert belongs to ${cert.federationId.toString()}, session "${cert.sessionId}", not to the calling session.`,
      );
    }
    if (session.foreign) return this.announceForeign(session, cert, idempotencyKey);
    const record = await this.presented.issuedHere(cert);
    if (record.serial !== session.certSerial || record.invalidatedAt !== null) {
      throw new ApiError(403, ERROR_CODE.certInvalidated, `The ID-Cert ${record.serial} is not the current cert of this session.`);
    }
  }

  /** docs/protocol.md#route-idcert-extern: the new cert names the same actor and session (checked
   * above), starts later than the session's current one, and its home server vouches for it. */
  private async announceForeign(session: AuthenticatedSession, cert: PresentedActorCert, idempotencyKey: string | undefined): Promise<void> {
    const serial = cert.serial.toString();
    const current = await currentForeignIdCert(this.db, session.federationId, session.sessionId);
    if (serial !== session.certSerial && current && !isNewerForeignCert({ notBefore: cert.notBefore.toISOString() }, { notBefore: current.notBefore.toISOString(), invalidated: current.invalidatedAt !== null })) {
      throw new ApiError(403, ERROR_CODE.certInvalidated, `The ID-Cert ${serial} is not newer than the current cert of this session.`);
    }
    const vouchedAt = await this.foreignCerts.vouch(cert);
    await this.commands.send(
      newCommand(
        'AnnounceForeignIdCert',
        { federationId: session.federationId, sessionId: session.sessionId, serial, ...(vouchedAt === undefined ? {} : { vouchedAt }) },
        this.commands.commandId(`session/idcert/extern/${serial}`, session.federationId, idempotencyKey),
      ),
    );
  }

  @Post('idcert/extern')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard)
  @ApiOperation({ ...ROUTE_DOC, summary: `${ROUTE_DOC.summary} (2024 method; PUT since 2024-05-25)` })
  @RawBodyAs('id_cert')
  @ApiResponse({ status: 201, description: 'no body' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_CERT' })
  @ApiAuthenticated()
  @ApiResponse({ status: 403, description: 'P2CORE_SESSION_MISMATCH or P2CORE_CERT_INVALIDATED' })
  @ApiResponse({ status: 404, description: 'P2CORE_NOT_FEDERATED' })
  @ApiRateLimited(RATE_LIMITED)
  @ApiSendsCommand()
  announceByPost(
    @CurrentSession() session: AuthenticatedSession,
    @Body() request: ExternIdCertRequestDto,
    @Ip() address: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    return this.announce(session, request, address, idempotencyKey);
  }
}

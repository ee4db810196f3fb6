import { Body, Controller, Headers, HttpCode, Inject, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { parseFederationId } from '@p2/polyproto';
import { idCert } from '@p2/read-models';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard, RetriedRotationOf, RotationRetryAnswered, type RetriedRotation } from '../auth/bearer-auth.guard';
import { SensitiveActionGuard } from '../auth/sensitive-action.guard';
import { hashToken, SessionTokens } from '../auth/session-token';
import { APP_CONFIG } from '@p2/platform';
import { ApiError } from '../http/api-error';
import { csrFromRequest } from '../http/csr-field';
import { RawBodyAs } from '../http/lenient-body';
import { CommandSender } from '../messaging/command-sender.service';
import { CsrRequestDto } from './rotate-id-cert.request.dto';
import { ApiSendsCommand, ApiSensitiveAction } from '../http/api-responses';
import { ReadDatabase } from '../read-models/read-database';

interface IdCertAndToken {
  id_cert: string;
  token: string;
}

/** POST /session/idcert and the 2025 POST /idcert: new ID-Certs for the calling actor's sessions
 * (sensitive, docs/protocol.md#sensitive-actions). */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('.p2/core/v1')
export class RotateIdCertController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly commands: CommandSender,
    private readonly tokens: SessionTokens,
    private readonly db: ReadDatabase,
  ) {}

  @Post('session/idcert')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard, SensitiveActionGuard)
  @RotationRetryAnswered()
  @ApiOperation({
    summary:
      "Rotate the calling session's ID-Cert: the CSR's session ID must be the token's session. The old cert is invalidated and its token dies; the answer carries the new cert and a new token.",
  })
  @ApiSensitiveAction({ forbidden: 'P2CORE_SENSITIVE_SOLUTION_INVALID, or P2CORE_SESSION_MISMATCH (the CSR names another session)' })
  @RawBodyAs('csr')
  @ApiResponse({ status: 201, schema: { example: { id_cert: '-----BEGIN CERTIFICATE-----…', token: 'base64url' } } })
  @ApiResponse({ status: 400, description: 'P2CORE_INVALID_CSR (names the field and rule) or P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 404, description: 'P2CORE_SESSION_NOT_FOUND (the session was rotated or deleted meanwhile)' })
  @ApiSendsCommand()
  async rotate(
    @CurrentSession() session: AuthenticatedSession,
    @RetriedRotationOf() retried: RetriedRotation | undefined,
    @Body() request: CsrRequestDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<IdCertAndToken> {
    const { der, csr } = this.readCsr(session, request.csr);
    if (csr.sessionId !== session.sessionId) {
      throw new ApiError(403, ERROR_CODE.sessionMismatch, `The ID-CSR is for session "${csr.sessionId}", but the token belongs to session "${session.sessionId}".`);
    }
    return this.rotateSession(session, der, idempotencyKey, retried);
  }

  @Post('idcert')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard, SensitiveActionGuard)
  @RotationRetryAnswered()
  @ApiOperation({
    summary:
      "New ID-Cert (2025 form): rotates the calling session's cert when the CSR names that session, otherwise opens a new session for the CSR's session ID (409 while a valid cert holds it).",
  })
  @ApiSensitiveAction()
  @RawBodyAs('csr')
  @ApiResponse({ status: 201, schema: { example: { id_cert: '-----BEGIN CERTIFICATE-----…', token: 'base64url' } } })
  @ApiResponse({ status: 400, description: 'P2CORE_INVALID_CSR or P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 409, description: 'P2CORE_SESSION_ID_IN_USE (another valid session holds the session ID)' })
  @ApiSendsCommand()
  async issue(
    @CurrentSession() session: AuthenticatedSession,
    @RetriedRotationOf() retried: RetriedRotation | undefined,
    @Body() request: CsrRequestDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<IdCertAndToken> {
    const { der, csr } = this.readCsr(session, request.csr);
    if (csr.sessionId === session.sessionId) return this.rotateSession(session, der, idempotencyKey, retried);
    // the dead token got this far only as the retry of a rotation; it may open no session
    if (retried) throw new ApiError(401, ERROR_CODE.unauthorized, 'The session token is unknown, revoked or belongs to an invalid certificate.');
    // Keyed on the calling session and its token too: with the actor alone, another session of the
    // actor that sent the same key for the same new session ID was answered the first one's cert and
    // token, a session whose private key only the first device holds (docs/protocol.md#idempotency-key).
    const route = `idcert/${csr.sessionId}`;
    const commandId = this.commands.sessionCommandId(route, session, idempotencyKey);
    const token = this.tokens.tokenFor(`${route}/${session.sessionId}/${session.tokenHash}`, session.federationId, idempotencyKey);
    const result = await this.commands.send(
      newCommand(
        'OpenSession',
        { federationId: session.federationId, csr: Buffer.from(der).toString('base64'), tokenHash: hashToken(token) },
        commandId,
      ),
    );
    return { id_cert: result.idCertPem, token };
  }

  private readCsr(session: AuthenticatedSession, csr: string) {
    return csrFromRequest(csr, { domain: this.config.domain, actorLocalName: parseFederationId(session.federationId).localName });
  }

  /** Rotates the calling session's cert; or, for the retry of a rotation that was applied and ended
   * the calling token, answers that rotation's outcome: the cert its token belongs to (`session`
   * is then the rotated session) and that token. */
  private async rotateSession(
    session: AuthenticatedSession,
    der: Uint8Array,
    idempotencyKey: string | undefined,
    retried: RetriedRotation | undefined,
  ): Promise<IdCertAndToken> {
    if (retried) return { id_cert: await this.issuedCert(session.certSerial), token: retried.token };
    const commandId = this.commands.commandId(`session/idcert/${session.certSerial}`, session.federationId, idempotencyKey);
    const token = this.tokens.rotationTokenFor(session.tokenHash, idempotencyKey);
    const result = await this.commands.send(
      newCommand(
        'RotateIdCert',
        {
        federationId: session.federationId,
        sessionId: session.sessionId,
        currentSerial: session.certSerial,
        csr: Buffer.from(der).toString('base64'),
        tokenHash: hashToken(token),
      },
        commandId,
      ),
    );
    return { id_cert: result.idCertPem, token };
  }

  private async issuedCert(serial: string): Promise<string> {
    const cert = await idCert(this.db.prepared, serial);
    // the token lookup found this cert valid a moment ago, and certs are never deleted
    if (!cert) throw new ApiError(500, ERROR_CODE.internal, `The certificate ${serial} of a live token is missing.`);
    return cert.pem;
  }
}

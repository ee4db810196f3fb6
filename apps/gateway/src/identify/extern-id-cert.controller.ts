import { Body, Controller, HttpCode, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ERROR_CODE } from '@p2/contracts';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard } from '../auth/bearer-auth.guard';
import { ApiError } from '../http/api-error';
import { PresentedIdCerts } from './presented-id-cert';

const ROUTE_DOC = {
  summary:
    "Announce the calling session's new ID-Cert (R13). On this home server the cert was recorded when it was issued, so the announcement is only checked: it must be the calling session's current cert.",
};
const BODY_DOC = {
  description: 'the cert as raw PEM (any or no Content-Type, as polyproto-rs sends it), a JSON string, {"id_cert": …} or base64 DER',
  schema: { type: 'string', example: '-----BEGIN CERTIFICATE-----\n…' },
};

/**
 * R13 on a home server. Read-only on purpose, no command: the certs a home server's own actors can
 * announce were issued here and are already in the log (IdCertIssued / IdCertRotated); nothing is
 * cached, so there is nothing to write. Once this server federates, announcements of foreign
 * sessions will update a cache of foreign certs, and that will be a command.
 */
@ApiTags('sessions')
@ApiBearerAuth()
@Controller('.p2/core/v1/session')
export class ExternIdCertController {
  constructor(private readonly presented: PresentedIdCerts) {}

  @Put('idcert/extern')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard)
  @ApiOperation(ROUTE_DOC)
  @ApiBody(BODY_DOC)
  @ApiResponse({ status: 201, description: 'no body' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_CERT (unparsable, or not a cert this server issued)' })
  @ApiResponse({ status: 401, description: 'P2CORE_UNAUTHORIZED' })
  @ApiResponse({ status: 403, description: "P2CORE_SESSION_MISMATCH (another actor's or session's cert) or P2CORE_CERT_INVALIDATED (an older cert of this session)" })
  @ApiResponse({ status: 404, description: 'P2CORE_NOT_FEDERATED (a cert of another home server)' })
  async announce(@CurrentSession() session: AuthenticatedSession, @Body() body: unknown): Promise<void> {
    const cert = this.presented.parse(body);
    if (cert.federationId.toString() !== session.federationId || cert.sessionId !== session.sessionId) {
      throw new ApiError(
        403,
        ERROR_CODE.sessionMismatch,
        `The ID-Cert belongs to ${cert.federationId.toString()}, session "${cert.sessionId}", not to the calling session.`,
      );
    }
    const record = await this.presented.issuedHere(cert);
    if (record.serial !== session.certSerial || record.invalidatedAt !== null) {
      throw new ApiError(403, ERROR_CODE.certInvalidated, `The ID-Cert ${record.serial} is not the current cert of this session.`);
    }
  }

  @Post('idcert/extern')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard)
  @ApiOperation({ ...ROUTE_DOC, summary: `${ROUTE_DOC.summary} (2024 method; PUT since 2024-05-25)` })
  @ApiBody(BODY_DOC)
  @ApiResponse({ status: 201, description: 'no body' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_CERT' })
  @ApiResponse({ status: 401, description: 'P2CORE_UNAUTHORIZED' })
  @ApiResponse({ status: 403, description: 'P2CORE_SESSION_MISMATCH or P2CORE_CERT_INVALIDATED' })
  @ApiResponse({ status: 404, description: 'P2CORE_NOT_FEDERATED' })
  announceByPost(@CurrentSession() session: AuthenticatedSession, @Body() body: unknown): Promise<void> {
    return this.announce(session, body);
  }
}

import { Body, Controller, Get, Headers, HttpCode, Inject, Ip, Param, Post, Put, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { KEY_PACKAGE_LIMITS } from '@p2/domain';
import { actorExists } from '@p2/read-models';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard, ForeignSessionsAllowed } from '../auth/bearer-auth.guard';
import { APP_CONFIG } from '@p2/platform';
import { ApiError } from '../http/api-error';
import { FederationIdPathDto } from '../http/federation-id.request.dto';
import { GetOnly } from '../http/get-only.guard';
import { ExactIntegersIn, WholeBodyAs } from '../http/lenient-body';
import { CommandSender } from '../messaging/command-sender.service';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ReadDatabase } from '../read-models/read-database';
import { KeyPackagesUploadDto, LastResortUploadDto, toKeyPackageData, toWire, KeyPackageDto } from './key-packages.request.dto';
import { ApiAuthenticated, ApiRateLimited, ApiSendsCommand } from '../http/api-responses';

/** MLS KeyPackages (docs/protocol.md#key-packages). Every route is a command to the
 * certstore, the GET too: handing a package out consumes it, so it is decided on the target
 * actor's partition, one request after the other, never twice. */
@ApiTags('key packages')
@ApiBearerAuth()
@Controller('.p2/core/v1')
export class KeyPackagesController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly commands: CommandSender,
    private readonly db: ReadDatabase,
    private readonly limits: RateLimiter,
  ) {}

  @Post('keypackage/@me')
  @HttpCode(201)
  @UseGuards(BearerAuthGuard)
  @ApiOperation({
    summary: "Upload KeyPackages for the calling session's ID-Cert.",
    description: `A JSON array of 1 to ${KEY_PACKAGE_LIMITS.perRequest} KeyPackages (a single object counts as one). A session holds at most ${KEY_PACKAGE_LIMITS.stockPerSession} unused ones. Nothing is stored unless all are accepted.`,
  })
  @WholeBodyAs('key_packages')
  // extensions are kept as sent: a big integer in them stays exact, as a decimal string
  @ExactIntegersIn(['extensions'])
  @ApiResponse({ status: 201, description: 'stored; no body' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST: not an array of KeyPackages, a field missing or malformed' })
  @ApiAuthenticated("P2CORE_UNAUTHORIZED: no valid token, or the session's cert became invalid meanwhile")
  @ApiResponse({ status: 409, description: 'P2CORE_DUPLICATE_INIT_KEY: an init_key is already stored (by anyone) or appears twice in the request' })
  @ApiResponse({
    status: 413,
    description: `P2CORE_PAYLOAD_TOO_LARGE: more than ${KEY_PACKAGE_LIMITS.perRequest} KeyPackages, or a body over the gateway's body limit; P2CORE_KEY_PACKAGE_LIMIT: the session would hold more than ${KEY_PACKAGE_LIMITS.stockPerSession} unused KeyPackages`,
  })
  @ApiSendsCommand()
  async upload(@CurrentSession() session: AuthenticatedSession, @Body() request: KeyPackagesUploadDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<void> {
    if (request.key_packages.length > KEY_PACKAGE_LIMITS.perRequest) {
      throw new ApiError(413, ERROR_CODE.payloadTooLarge, `At most ${KEY_PACKAGE_LIMITS.perRequest} KeyPackages per request; send the rest in another one.`);
    }
    const keyPackages = request.key_packages.map(toKeyPackageData);
    await this.commands.send(
      newCommand(
        'AddKeyPackages',
        { federationId: session.federationId, sessionId: session.sessionId, serial: session.certSerial, keyPackages },
        this.commands.sessionCommandId('keypackage/@me', session, idempotencyKey),
      ),
    );
  }

  @Put('keypackage_lr')
  @HttpCode(204)
  @UseGuards(BearerAuthGuard)
  @ApiOperation({
    summary: "Replace the calling session's last-resort KeyPackage.",
    description: `One KeyPackage. The session's previous last-resort package is retired for good and the new one starts unused. The last resort is handed out, again and again, only when the session has no regular KeyPackage left.`,
  })
  @WholeBodyAs('key_package')
  // extensions are kept as sent: a big integer in them stays exact, as a decimal string
  @ExactIntegersIn(['extensions'])
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST: not one KeyPackage object, a field missing or malformed' })
  @ApiAuthenticated("P2CORE_UNAUTHORIZED: no valid token, or the session's cert became invalid meanwhile")
  @ApiResponse({ status: 409, description: 'P2CORE_DUPLICATE_INIT_KEY: the init_key is already stored (by anyone, the current last resort included)' })
  @ApiResponse({ status: 413, description: "P2CORE_PAYLOAD_TOO_LARGE: a body over the gateway's body limit" })
  @ApiSendsCommand()
  async replaceLastResort(
    @CurrentSession() session: AuthenticatedSession,
    @Body() request: LastResortUploadDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    const keyPackage = toKeyPackageData(request.key_package);
    await this.commands.send(
      newCommand(
        'ReplaceLastResortKeyPackage',
        { federationId: session.federationId, sessionId: session.sessionId, serial: session.certSerial, keyPackage },
        this.commands.sessionCommandId('keypackage_lr', session, idempotencyKey),
      ),
    );
  }

  @Get('keypackage/:fid')
  @UseGuards(BearerAuthGuard)
  @GetOnly()
  @ForeignSessionsAllowed()
  @ApiOperation({
    summary: 'KeyPackages of an actor: one per active session, each handed out once.',
    description:
      'For every session of the actor whose current ID-Cert is neither invalidated nor expired and that has a KeyPackage bound to ' +
      'that cert: its oldest unused regular KeyPackage, consumed (never handed out again, whatever the number of concurrent ' +
      "requests); when it has none left, its last-resort KeyPackage, which stays and is marked used (the session is told through " +
      'LOW_KEY_PACKAGES). Sessions with nothing are left out; the array may be empty. ' +
      `At most ${KEY_PACKAGE_LIMITS.claimBytes / 1024} KiB of KeyPackages per ` +
      'answer, in session ID order: the sessions past that are left out, nothing of theirs consumed, for a later claim. ' +
      'The fid may be percent-encoded. An Idempotency-Key header makes a retry return the same packages.',
  })
  @ApiResponse({ status: 200, type: [KeyPackageDto] })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST: the fid is not a federation ID' })
  @ApiAuthenticated()
  @ApiResponse({ status: 404, description: 'P2CORE_ACTOR_NOT_FOUND: no such actor on this server (other domains included)' })
  @ApiRateLimited("too many claims from the address or by the caller, or of the target's KeyPackages (by everyone, or by the caller)")
  @ApiSendsCommand()
  async fetch(
    @CurrentSession() session: AuthenticatedSession,
    @Param() path: FederationIdPathDto,
    @Ip() address: string,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<KeyPackageDto[]> {
    this.limits.check('keyPackageClaim', address, session.federationId);
    const federationId = path.fid;
    const domain = federationId.slice(federationId.indexOf('@') + 1);
    if (domain !== this.config.domain || !(await actorExists(this.db, federationId))) {
      throw new ApiError(404, ERROR_CODE.actorNotFound, `No actor ${federationId} is registered on this server.`);
    }
    this.limits.checkKeyPackageTarget(session.federationId, federationId);
    const result = await this.commands.send(
      newCommand(
        'ClaimKeyPackages',
        { federationId, requestedBy: session.federationId },
        this.commands.sessionCommandId(`keypackage/${federationId}`, session, idempotencyKey),
      ),
    );
    return result.keyPackages.map((p) => toWire(p.keyPackage));
  }
}

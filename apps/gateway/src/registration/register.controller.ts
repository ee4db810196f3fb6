import { Body, Controller, Headers, HttpCode, Inject, Ip, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { actorRegistrationCommand } from '@p2/read-models';
import { CredentialSealer } from '../auth/credential-sealer';
import { hashPassword } from '../auth/password-hasher';
import { APP_CONFIG } from '@p2/platform';
import { ApiError } from '../http/api-error';
import { CommandSender } from '../messaging/command-sender.service';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ReadDatabase } from '../read-models/read-database';
import { RegisterRequestDto } from './register.request.dto';
import { ApiRateLimited, ApiSendsCommand } from '../http/api-responses';

@ApiTags('registration')
@Controller('.p2/core/v1')
export class RegisterController {
  private readonly admins: ReadonlySet<string>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly commands: CommandSender,
    private readonly db: ReadDatabase,
    private readonly limits: RateLimiter,
    private readonly sealer: CredentialSealer,
  ) {
    this.admins = new Set(config.admins);
  }

  @Post('register')
  @HttpCode(201)
  @ApiOperation({ summary: 'Create an identity. Names are case-insensitive; no token is returned.' })
  @ApiResponse({ status: 201, schema: { example: { fid: 'alice@example.com' } } })
  @ApiResponse({ status: 400, description: 'P2CORE_INVALID_ACTOR_NAME or P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 403, description: 'P2CORE_NAME_RESERVED: a name of P2_ADMINS (an operator creates it with p2ctl admins create)' })
  @ApiResponse({ status: 409, description: 'P2CORE_FEDERATION_ID_TAKEN' })
  @ApiRateLimited()
  @ApiSendsCommand()
  async register(@Body() request: RegisterRequestDto, @Ip() address: string, @Headers('idempotency-key') idempotencyKey?: string): Promise<{ fid: string }> {
    const localName = request.actor_name;
    const password = request.auth_payload.password;
    const federationId = `${localName}@${this.config.domain}`;
    this.limits.check('register', address, federationId);
    // Whoever registered an admin name first would hold admin rights; refused before any hashing or
    // reading, and again by the certstore's decider (docs/protocol.md#administrators).
    if (this.admins.has(localName)) throw new ApiError(403, ERROR_CODE.nameReserved, `The name "${localName}" is reserved for an administrator of this server; an operator creates it.`);
    const commandId = this.commands.commandId('register', federationId, idempotencyKey);
    // Cheap early answers before the costly hash; the certstore's decision on the stream is what counts.
    const registeredBy = await actorRegistrationCommand(this.db, federationId);
    if (registeredBy !== undefined) {
      // a retry of the registration that took the name gets its first outcome (docs/protocol.md#idempotency-key)
      if (idempotencyKey && registeredBy === commandId) return { fid: federationId };
      throw new ApiError(409, ERROR_CODE.federationIdTaken, `The federation ID ${federationId} is already taken.`);
    }
    const sealedPasswordHash = await this.sealer.sealPasswordHash(await hashPassword(password, this.config.passwordScryptCost), federationId);
    const result = await this.commands.send(newCommand('RegisterActor', { federationId, localName, sealedPasswordHash }, commandId));
    return { fid: result.federationId };
  }
}

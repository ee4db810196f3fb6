import { applyDecorators, Controller, Header, Headers, HttpCode, Post, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { newCommand } from '@p2/contracts';
import { AuditLog } from '@p2/observability';
import { AdminGuard } from '../auth/admin.guard';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard } from '../auth/bearer-auth.guard';
import { SensitiveActionGuard } from '../auth/sensitive-action.guard';
import { CommandSender } from '../messaging/command-sender.service';
import { RotateServerKeyRequestDto } from './rotate-server-key.request.dto';
import { ApiAdministratorAction, ApiSendsCommand } from '../http/api-responses';

/** What both methods answer: the same guards and the same command behind them. */
const ApiRotationAnswers = () =>
  applyDecorators(
    ApiAdministratorAction(),
    ApiResponse({ status: 200, schema: { type: 'string', example: '-----BEGIN CERTIFICATE-----\n…' } }),
    ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST (compromised is not a boolean)' }),
    ApiSendsCommand(),
  );

/** An administrator replaces the home server's identity key (docs/protocol.md#server-key-rotation). */
@ApiTags('server identity')
@ApiBearerAuth()
@Controller('.p2/core/v1/key/server')
export class RotateServerKeyController {
  constructor(
    private readonly commands: CommandSender,
    private readonly audit: AuditLog,
  ) {}

  @Put()
  @HttpCode(200)
  @Header('content-type', 'application/json; charset=utf-8')
  @UseGuards(BearerAuthGuard, AdminGuard, SensitiveActionGuard)
  @ApiOperation({
    summary:
      'Rotate the home server identity key (admin + sensitive): answers the new root ID-Cert as a JSON string PEM. The old root stays in history; every session gets SERVER_KEY_CHANGE. With compromised=true every actor cert of the old root is invalidated.',
  })
  @ApiRotationAnswers()
  async rotate(
    @CurrentSession() session: AuthenticatedSession,
    @Query() request: RotateServerKeyRequestDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<string> {
    const compromised = request.compromised ?? false;
    const result = await this.commands.send(
      newCommand(
        'RotateServerKey',
        { requestedBy: session.federationId, compromised },
        this.commands.commandId('key/server', session.federationId, idempotencyKey),
      ),
    );
    this.audit.record({ kind: 'server-key.rotated', actor: session.federationId, reason: compromised ? 'compromised' : 'routine', details: { compromised } });
    // polyproto-rs parses the answer as a JSON string
    return JSON.stringify(result.idCertPem);
  }

  @Post()
  @HttpCode(200)
  @Header('content-type', 'application/json; charset=utf-8')
  @UseGuards(BearerAuthGuard, AdminGuard, SensitiveActionGuard)
  @ApiOperation({ summary: 'Rotate the home server identity key, beta.3 POST form of PUT /key/server.' })
  @ApiRotationAnswers()
  rotateByPost(
    @CurrentSession() session: AuthenticatedSession,
    @Query() request: RotateServerKeyRequestDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<string> {
    return this.rotate(session, request, idempotencyKey);
  }
}

import { Controller, Delete, Headers, HttpCode, Post, Put, Query, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { newCommand } from '@p2/contracts';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard, ForeignSessionsAllowed } from '../auth/bearer-auth.guard';
import { SensitiveActionGuard } from '../auth/sensitive-action.guard';
import { CommandSender } from '../messaging/command-sender.service';
import { DeleteSessionRequestDto } from './sessions.request.dto';
import { ApiAuthenticated, ApiSendsCommand, ApiSensitiveAction } from '../http/api-responses';

@ApiTags('sessions')
@ApiBearerAuth()
@Controller('.p2/core/v1/session')
export class SessionsController {
  constructor(private readonly commands: CommandSender) {}

  @Put('revoke')
  @HttpCode(204)
  @UseGuards(BearerAuthGuard)
  @ForeignSessionsAllowed()
  @ApiOperation({ summary: 'Log out: the calling token dies, the session ID-Cert stays valid. Foreign sessions too.' })
  @ApiResponse({ status: 204 })
  @ApiAuthenticated()
  @ApiSendsCommand()
  async revoke(@CurrentSession() session: AuthenticatedSession, @Headers('idempotency-key') idempotencyKey?: string): Promise<void> {
    const data = { federationId: session.federationId, sessionId: session.sessionId, tokenHash: session.tokenHash };
    const commandId = this.commands.sessionCommandId('session/revoke', session, idempotencyKey);
    // a foreign session's token is decided on its own stream (docs/protocol.md#foreign-sessions)
    await this.commands.send(session.foreign ? newCommand('LogOutForeignSession', data, commandId) : newCommand('LogOutSession', data, commandId));
  }

  @Post('revoke')
  @HttpCode(204)
  @UseGuards(BearerAuthGuard)
  @ForeignSessionsAllowed()
  @ApiOperation({ summary: 'Log out, POST form (alias of PUT /session/revoke: clients disagree on the method).' })
  @ApiResponse({ status: 204 })
  @ApiAuthenticated()
  @ApiSendsCommand()
  revokeByPost(@CurrentSession() session: AuthenticatedSession, @Headers('idempotency-key') idempotencyKey?: string): Promise<void> {
    return this.revoke(session, idempotencyKey);
  }

  @Delete()
  @HttpCode(204)
  @UseGuards(BearerAuthGuard, SensitiveActionGuard)
  @ApiOperation({ summary: "Delete a session of the calling actor: its token dies and its ID-Cert is invalidated; the session ID can be used again." })
  @ApiSensitiveAction()
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 404, description: 'P2CORE_SESSION_NOT_FOUND' })
  @ApiSendsCommand()
  async delete(
    @CurrentSession() session: AuthenticatedSession,
    @Query() request: DeleteSessionRequestDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    const sessionId = request.session_id;
    await this.commands.send(
      newCommand(
        'DeleteSession',
        { federationId: session.federationId, sessionId, ...(sessionId === session.sessionId ? { callerTokenHash: session.tokenHash } : {}) },
        // the caller's token too: another session of the actor deleting a session that reuses the
        // ID, under the same key, would otherwise be answered 204 and delete nothing
        this.commands.sessionCommandId(`session/delete/${sessionId}`, session, idempotencyKey),
      ),
    );
  }
}

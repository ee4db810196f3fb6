import { Controller, Get, Headers, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { newCommand } from '@p2/contracts';
import { INBOX_PAGE, LOOKUPS_PER_STATEMENT, unfetchedItemsOfSessions, type InboxItem, type SessionRef } from '@p2/read-models';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard, ForeignSessionsAllowed } from '../auth/bearer-auth.guard';
import { CommandSender } from '../messaging/command-sender.service';
import { GetOnly } from '../http/get-only.guard';
import { LookupBatcher } from '../read-models/lookup-batcher';
import { ReadDatabase } from '../read-models/read-database';
import { ApiAuthenticated, ApiSendsCommand } from '../http/api-responses';

/** GET /events: what this session missed. Fetching is a write (the items are not served again), so the
 * read is followed by an acknowledgement through the certstore before the items are returned. */
@ApiTags('events')
@ApiBearerAuth()
@Controller('.p2/core/v1/events')
export class EventsController {
  /** the reads of concurrent polls, in one statement (docs/architecture.md#token-lookups) */
  private readonly unfetched: LookupBatcher<SessionRef, InboxItem[]>;

  constructor(
    db: ReadDatabase,
    private readonly commands: CommandSender,
  ) {
    this.unfetched = new LookupBatcher((sessions) => unfetchedItemsOfSessions(db.prepared, sessions), LOOKUPS_PER_STATEMENT);
  }

  @Get()
  @UseGuards(BearerAuthGuard)
  @GetOnly()
  @ForeignSessionsAllowed()
  @ApiOperation({
    summary: `Events this session has not fetched yet, oldest first (at most ${INBOX_PAGE} per call): NEW_SESSION (op 3), ACTOR_CERTIFICATE_INVALIDATION (op 4), SERVER_KEY_CHANGE (op 6), LOW_KEY_PACKAGES. 204 when there are none.`,
  })
  @ApiResponse({
    status: 200,
    schema: { example: [{ type: 'NEW_SESSION', n: 'core', op: 3, d: { cert: '-----BEGIN CERTIFICATE-----…' }, s: 1 }] },
  })
  @ApiResponse({ status: 204, description: 'nothing new' })
  @ApiAuthenticated()
  @ApiSendsCommand()
  async poll(
    @CurrentSession() session: AuthenticatedSession,
    @Res({ passthrough: true }) reply: FastifyReply,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<InboxItem[] | undefined> {
    const items = await this.unfetched.lookup({ federationId: session.federationId, sessionId: session.sessionId });
    if (items.length === 0) {
      void reply.status(204);
      return undefined;
    }
    const upTo = items[items.length - 1]!.s;
    await this.commands.send(
      newCommand(
        'AcknowledgeInbox',
        { federationId: session.federationId, sessionId: session.sessionId, upTo },
        this.commands.sessionCommandId(`events/${upTo}`, session, idempotencyKey),
      ),
    );
    return items;
  }
}

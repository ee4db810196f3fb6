import { Injectable, Logger } from '@nestjs/common';
import { newCommand } from '@p2/contracts';
import { CommandSender } from '../messaging/command-sender.service';
import type { SessionGroup } from './connection-registry';

/**
 * Turns what clients confirmed over the socket into `AcknowledgeInbox` commands, the same command
 * GET /events sends, so acknowledged items are deleted and not served again by either. One command
 * per session at a time: a confirmation that arrives while one is in flight is folded into the next,
 * and a heartbeat that confirms nothing new sends nothing (docs/protocol.md#websocket-ack).
 */
@Injectable()
export class InboxAcknowledger {
  private readonly logger = new Logger('LiveEvents');

  constructor(private readonly commands: CommandSender) {}

  request(group: SessionGroup, upTo: number): void {
    if (upTo <= group.requested) return;
    group.requested = upTo;
    if (!group.acknowledging) void this.flush(group);
  }

  private async flush(group: SessionGroup): Promise<void> {
    group.acknowledging = true;
    try {
      while (group.requested > group.acknowledged) {
        const upTo = group.requested;
        const result = await this.commands.send(
          newCommand('AcknowledgeInbox', { federationId: group.federationId, sessionId: group.sessionId, upTo }, this.commands.commandId('gateway/ack', group.federationId, undefined)),
        );
        group.acknowledged = Math.max(group.acknowledged, result.upTo);
      }
    } catch (error) {
      // the next heartbeat that confirms anything asks again
      group.requested = group.acknowledged;
      this.logger.warn(`acknowledging the inbox of a session failed: ${(error as Error).message}`);
    } finally {
      group.acknowledging = false;
    }
  }
}

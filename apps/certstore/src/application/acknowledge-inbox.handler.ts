import { Injectable } from '@nestjs/common';
import { inboxStream, type CommandResult } from '@p2/contracts';
import { fold, inboxDecider, type InboxEvent } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import { parseFederationId, validateSessionId } from '@p2/polyproto';
import { applyProjections } from '../projections/projections';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';

/** GET /events: the session has fetched its inbox up to `upTo`; those items are not served again. */
@Injectable()
export class AcknowledgeInboxHandler {
  constructor(private readonly eventStore: PostgresEventStore) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const sessionId = validateSessionId(requireString(data, 'sessionId'));
    const upTo = (data as { upTo?: unknown }).upTo;
    if (typeof upTo !== 'number' || !Number.isSafeInteger(upTo) || upTo < 1) throw new MalformedCommandError('command field upTo must be a positive integer');
    const streamId = inboxStream(federationId, sessionId);
    const { version, events } = await this.eventStore.readStream(streamId, ctx.manager);
    const state = fold(inboxDecider, events as unknown as InboxEvent[]);
    const decided = inboxDecider.decide({ type: 'AcknowledgeInbox', federationId, sessionId, upTo, at: ctx.at }, state);
    if (decided.length > 0) {
      const stored = await this.eventStore.append(ctx.manager, streamId, version, decided, ctx.metadata);
      await applyProjections(ctx.manager, stored);
    }
    return { type: 'InboxAcknowledged', upTo: Math.max(upTo, state.fetchedUpTo) };
  }
}

import { Injectable } from '@nestjs/common';
import { inboxStream, type AcknowledgeInbox, type AcknowledgeInboxData, type ResultOf } from '@p2/contracts';
import { planOnce } from '@p2/event-store';
import { inboxDecider, type InboxState } from '@p2/domain';
import { AggregateStore, type LoadedStream } from './aggregate.store';
import type { CommandContext } from './command-context';

/** GET /events: the session has fetched its inbox up to `upTo`; those items are not served again. */
@Injectable()
export class AcknowledgeInboxHandler {
  constructor(private readonly store: AggregateStore) {}

  async execute(data: AcknowledgeInboxData, ctx: CommandContext): Promise<ResultOf<AcknowledgeInbox>> {
    const { federationId, sessionId, upTo } = data;
    const loaded = await loadInbox(ctx, inboxStream(federationId, sessionId));
    const { state } = await this.store.decide(inboxDecider, loaded, { type: 'AcknowledgeInbox', federationId, sessionId, upTo, at: ctx.at }, ctx);
    return { type: 'InboxAcknowledged', upTo: Math.max(upTo, state.fetchedUpTo) };
  }
}

/** The inbox stream grows by one event per poll, so it is not folded: the decider only ever
 * records a higher `upTo`, so the last event alone holds the fold's state (and the version). */
async function loadInbox(ctx: CommandContext, streamId: string): Promise<LoadedStream<InboxState>> {
  const [last]: { version: number; up_to: string }[] = await ctx.db.query(
    planOnce(`SELECT stream_position AS version, data->>'upTo' AS up_to FROM events WHERE stream_id = $1 ORDER BY stream_position DESC LIMIT 1`),
    [streamId],
  );
  return { streamId, version: last?.version ?? 0, state: { fetchedUpTo: last ? Number(last.up_to) : 0 } };
}

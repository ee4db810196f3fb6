import type { DomainEvent } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';

export type InboxEvent = Extract<DomainEvent, { type: 'InboxAcknowledged' }>;

/** A session's events inbox: the items themselves are a projection of other streams; what is
 * decided here is only how far the session has fetched. */
export interface InboxState {
  readonly fetchedUpTo: number;
}

export type InboxCommand = {
  readonly type: 'AcknowledgeInbox';
  readonly federationId: string;
  readonly sessionId: string;
  readonly upTo: number;
  readonly at: Date;
};

const initialState = (): InboxState => ({ fetchedUpTo: 0 });

function evolve(state: InboxState, event: InboxEvent): InboxState {
  switch (event.type) {
    case 'InboxAcknowledged':
      return { fetchedUpTo: Math.max(state.fetchedUpTo, event.data.upTo) };
    default:
      return assertNever(event.type);
  }
}

/** Acknowledging what was already acknowledged (two polls racing) records nothing. */
function decide(command: InboxCommand, state: InboxState): readonly InboxEvent[] {
  if (command.upTo <= state.fetchedUpTo) return [];
  return [
    {
      type: 'InboxAcknowledged',
      data: { federationId: command.federationId, sessionId: command.sessionId, upTo: command.upTo, acknowledgedAt: command.at.toISOString() },
    },
  ];
}

export const inboxDecider: Decider<InboxState, InboxCommand, InboxEvent> = { initialState, evolve, decide };

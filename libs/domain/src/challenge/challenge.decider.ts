import type { DomainEvent } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError, domainErrors } from '../domain-error';
import { ERROR_CODE } from '@p2/contracts';

export type ChallengeEvent = Extract<DomainEvent, { type: 'ChallengeIssued' | 'ChallengeConsumed' }>;

/** One challenge string (docs/protocol.md#challenge-strings): issued once, used at most once, dead after `expiresAt`. */
export type ChallengeState =
  | { readonly issued: false }
  | {
      readonly issued: true;
      /** ISO instant, whole seconds; accepted up to and including it */
      readonly expiresAt: string;
      readonly boundFederationId?: string;
      readonly boundSessionId?: string;
      readonly consumed: boolean;
    };

/** Who wants to use the challenge, and when. */
export interface ChallengeAttempt {
  readonly federationId: string;
  readonly sessionId: string;
  readonly at: Date;
}

export type ChallengeCommand =
  | {
      readonly type: 'IssueChallenge';
      readonly challenge: string;
      readonly expiresAt: Date;
      readonly boundFederationId?: string;
      readonly boundSessionId?: string;
      readonly at: Date;
    }
  | ({ readonly type: 'ConsumeChallenge'; readonly challenge: string; readonly serial: string } & ChallengeAttempt);

const initialState = (): ChallengeState => ({ issued: false });

function evolve(state: ChallengeState, event: ChallengeEvent): ChallengeState {
  switch (event.type) {
    case 'ChallengeIssued': {
      const { expiresAt, boundFederationId, boundSessionId } = event.data;
      return {
        issued: true,
        expiresAt,
        ...(boundFederationId === undefined ? {} : { boundFederationId }),
        ...(boundSessionId === undefined ? {} : { boundSessionId }),
        consumed: false,
      };
    }
    case 'ChallengeConsumed':
      // evolve never throws on replay: a consumption without an issuance still marks it used.
      return state.issued ? { ...state, consumed: true } : { issued: true, expiresAt: new Date(0).toISOString(), consumed: true };
    default:
      return assertNever(event);
  }
}

/**
 * Why `attempt` may not use the challenge, or undefined when it may (docs/protocol.md#identify: unknown, used,
 * expired, bound to another actor or session). Shared with the gateway's first pass so that both
 * refuse with the same words; the certstore's decision is the one that counts.
 */
export function challengeRefusal(state: ChallengeState, attempt: ChallengeAttempt): string | undefined {
  if (!state.issued) return 'This challenge was not issued by this server.';
  if (state.consumed) return 'This challenge has already been used; request a new one.';
  if (attempt.at.getTime() > Date.parse(state.expiresAt)) return 'This challenge has expired; request a new one.';
  if (state.boundFederationId !== undefined && state.boundFederationId !== attempt.federationId) {
    return 'This challenge was issued for another actor.';
  }
  if (state.boundSessionId !== undefined && state.boundSessionId !== attempt.sessionId) {
    return 'This challenge was issued for another session.';
  }
  return undefined;
}

function decide(command: ChallengeCommand, state: ChallengeState): readonly ChallengeEvent[] {
  switch (command.type) {
    case 'IssueChallenge': {
      // 62^64 possible strings: a repeat means a broken random source, never a client mistake.
      if (state.issued) throw new DomainError(ERROR_CODE.internal, 'This challenge string was already issued.');
      if (command.expiresAt.getTime() <= command.at.getTime()) throw new DomainError(ERROR_CODE.internal, 'A challenge must expire after it is issued.');
      return [
        {
          type: 'ChallengeIssued',
          data: {
            challenge: command.challenge,
            issuedAt: command.at.toISOString(),
            expiresAt: command.expiresAt.toISOString(),
            ...(command.boundFederationId === undefined ? {} : { boundFederationId: command.boundFederationId }),
            ...(command.boundSessionId === undefined ? {} : { boundSessionId: command.boundSessionId }),
          },
        },
      ];
    }
    case 'ConsumeChallenge': {
      const refusal = challengeRefusal(state, command);
      if (refusal !== undefined) throw domainErrors.challengeFailed(refusal);
      return [
        {
          type: 'ChallengeConsumed',
          data: {
            challenge: command.challenge,
            federationId: command.federationId,
            sessionId: command.sessionId,
            serial: command.serial,
            consumedAt: command.at.toISOString(),
          },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

export const challengeDecider: Decider<ChallengeState, ChallengeCommand, ChallengeEvent> = { initialState, evolve, decide };

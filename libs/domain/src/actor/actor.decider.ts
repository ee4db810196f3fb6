import type { DomainEvent, IdCertIssuedData } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { domainErrors } from '../domain-error';

export type ActorEvent = Extract<DomainEvent, { type: 'ActorRegistered' | 'SessionOpened' | 'IdCertIssued' }>;

export interface SessionState {
  readonly serial: string;
  readonly notAfter: string;
  readonly active: boolean;
}

export interface ActorState {
  readonly registered: boolean;
  readonly federationId?: string;
  readonly sessions: Readonly<Record<string, SessionState>>;
}

/** A certificate the certstore has already signed for this command; the decider only decides
 * whether it may be recorded (signing is an effect and stays outside). */
export type IssuedIdCert = Omit<IdCertIssuedData, 'federationId' | 'sessionId' | 'issuedAt'>;

export type ActorCommand =
  | { readonly type: 'RegisterActor'; readonly federationId: string; readonly localName: string; readonly at: Date }
  | {
      readonly type: 'OpenSession';
      readonly federationId: string;
      readonly sessionId: string;
      readonly tokenHash: string;
      readonly cert: IssuedIdCert;
      readonly at: Date;
    };

const initialState = (): ActorState => ({ registered: false, sessions: {} });

function evolve(state: ActorState, event: ActorEvent): ActorState {
  switch (event.type) {
    case 'ActorRegistered':
      return { ...state, registered: true, federationId: event.data.federationId };
    case 'SessionOpened':
      return state;
    case 'IdCertIssued':
      return {
        ...state,
        sessions: {
          ...state.sessions,
          [event.data.sessionId]: { serial: event.data.serial, notAfter: event.data.notAfter, active: true },
        },
      };
    default:
      return assertNever(event);
  }
}

/** Profile §3.2: a session ID is taken while a valid (not invalidated, not expired) cert holds it. */
export function isSessionIdInUse(state: ActorState, sessionId: string, at: Date): boolean {
  const session = state.sessions[sessionId];
  return session !== undefined && session.active && Date.parse(session.notAfter) > at.getTime();
}

function decide(command: ActorCommand, state: ActorState): readonly ActorEvent[] {
  switch (command.type) {
    case 'RegisterActor': {
      if (state.registered) throw domainErrors.federationIdTaken(command.federationId);
      return [
        {
          type: 'ActorRegistered',
          data: {
            federationId: command.federationId,
            localName: command.localName,
            registeredAt: command.at.toISOString(),
          },
        },
      ];
    }
    case 'OpenSession': {
      if (!state.registered) throw domainErrors.actorNotFound(command.federationId);
      if (isSessionIdInUse(state, command.sessionId, command.at)) throw domainErrors.sessionIdInUse(command.sessionId);
      const at = command.at.toISOString();
      return [
        {
          type: 'SessionOpened',
          data: {
            federationId: command.federationId,
            sessionId: command.sessionId,
            serial: command.cert.serial,
            tokenHash: command.tokenHash,
            openedAt: at,
          },
        },
        {
          type: 'IdCertIssued',
          data: { ...command.cert, federationId: command.federationId, sessionId: command.sessionId, issuedAt: at },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

export const actorDecider: Decider<ActorState, ActorCommand, ActorEvent> = { initialState, evolve, decide };

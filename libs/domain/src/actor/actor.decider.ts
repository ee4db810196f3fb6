import type { DomainEvent, IdCertIssuedData } from '@p2/contracts';
import { isWithinValidity } from '@p2/polyproto';
import { assertNever, type Decider } from '../decider';
import { domainErrors } from '../domain-error';

export type ActorEvent = Extract<
  DomainEvent,
  { type: 'ActorRegistered' | 'SessionOpened' | 'IdCertIssued' | 'SessionLoggedOut' | 'SessionDeleted' | 'IdCertInvalidated' | 'IdCertRotated' | 'SessionIdentified' }
>;

export interface SessionState {
  readonly serial: string;
  /** of the session's latest cert: the next one starts later (docs/protocol.md#cert-validity) */
  readonly notBefore?: string;
  readonly notAfter: string;
  /** false once the cert is invalidated (session deleted) */
  readonly active: boolean;
  /** hash of the live token of this session's cert; absent after logout */
  readonly tokenHash?: string;
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
  | {
      /** A completed challenge proved possession of this cert's key (docs/protocol.md#identify);
       * the challenge itself is decided on its own stream, in the same transaction. */
      readonly type: 'IdentifySession';
      readonly federationId: string;
      readonly sessionId: string;
      readonly serial: string;
      readonly tokenHash: string;
      readonly at: Date;
    }
  | {
      readonly type: 'RotateIdCert';
      readonly federationId: string;
      readonly sessionId: string;
      /** the cert the caller's token belongs to; the rotation replaces exactly that one */
      readonly currentSerial: string;
      readonly tokenHash: string;
      readonly cert: IssuedIdCert;
      readonly at: Date;
    }
  | {
      readonly type: 'InvalidateIdCert';
      readonly federationId: string;
      readonly sessionId: string;
      readonly serial: string;
      readonly reason: 'server-key-compromised';
      readonly at: Date;
    }
  | {
      readonly type: 'RegisterActor';
      readonly federationId: string;
      readonly localName: string;
      /** this server's domain (P2_DOMAIN of the certstore): the only domain its actors can have */
      readonly homeDomain: string;
      /** the name is one of P2_ADMINS: whoever registers it first would hold admin rights */
      readonly reservedName: boolean;
      /** the command comes from an operator's tool (p2ctl admins create), not from POST /register */
      readonly byOperator: boolean;
      readonly at: Date;
    }
  | { readonly type: 'LogOutSession'; readonly federationId: string; readonly sessionId: string; readonly tokenHash: string; readonly at: Date }
  | {
      readonly type: 'DeleteSession';
      readonly federationId: string;
      readonly sessionId: string;
      /** the calling token's hash when the caller deletes its own session */
      readonly callerTokenHash?: string;
      readonly at: Date;
    }
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
      return withSession(state, event.data.sessionId, { tokenHash: event.data.tokenHash });
    case 'IdCertIssued':
      return withSession(state, event.data.sessionId, { serial: event.data.serial, notBefore: event.data.notBefore, notAfter: event.data.notAfter, active: true });
    case 'SessionLoggedOut':
      return withSession(state, event.data.sessionId, { tokenHash: undefined });
    case 'SessionDeleted':
      return withSession(state, event.data.sessionId, { tokenHash: undefined });
    case 'IdCertInvalidated':
      return withSession(state, event.data.sessionId, { active: false, tokenHash: undefined });
    case 'IdCertRotated':
      return withSession(state, event.data.sessionId, {
        serial: event.data.serial,
        notBefore: event.data.notBefore,
        notAfter: event.data.notAfter,
        active: true,
        tokenHash: event.data.tokenHash,
      });
    case 'SessionIdentified':
      return withSession(state, event.data.sessionId, { tokenHash: event.data.tokenHash });
    default:
      return assertNever(event);
  }
}

/** evolve never throws on replay: a change to an unknown session creates its entry. */
function withSession(state: ActorState, sessionId: string, change: Partial<SessionState>): ActorState {
  const current: SessionState = state.sessions[sessionId] ?? { serial: '', notAfter: new Date(0).toISOString(), active: false };
  return { ...state, sessions: { ...state.sessions, [sessionId]: { ...current, ...change } } };
}

/** A session ID is taken while a valid (not invalidated, not expired) cert holds it
 * (docs/protocol.md#session-id-in-use); a cert is still valid at its notAfter (docs/protocol.md#cert-validity). */
export function isSessionIdInUse(state: ActorState, sessionId: string, at: Date): boolean {
  const session = state.sessions[sessionId];
  return session !== undefined && session.active && isWithinValidity({ notAfter: new Date(session.notAfter) }, at);
}

/** What OpenSession and RotateIdCert are asked before the certificate exists. */
export type CertRequest<C extends { readonly type: 'OpenSession' | 'RotateIdCert' }> = Omit<Extract<ActorCommand, C>, 'cert'>;

/** Every refusal of OpenSession: none depends on the certificate, so the handler asks this before
 * it signs one (a refused command costs no signature); decide asks it again. */
export function checkOpenSession(state: ActorState, request: CertRequest<{ type: 'OpenSession' }>): void {
  if (!state.registered) throw domainErrors.actorNotFound(request.federationId);
  if (isSessionIdInUse(state, request.sessionId, request.at)) throw domainErrors.sessionIdInUse(request.sessionId);
}

/** Every refusal of RotateIdCert (the session must be in use and still at `currentSerial`), asked
 * before signing like checkOpenSession; returns the session being rotated. */
export function checkRotateIdCert(state: ActorState, request: CertRequest<{ type: 'RotateIdCert' }>): SessionState {
  const session = state.sessions[request.sessionId];
  if (!session || !isSessionIdInUse(state, request.sessionId, request.at) || session.serial !== request.currentSerial) {
    throw domainErrors.sessionNotFound(request.sessionId);
  }
  return session;
}

function decide(command: ActorCommand, state: ActorState): readonly ActorEvent[] {
  switch (command.type) {
    case 'RegisterActor': {
      // The gateway builds the ID from its own P2_DOMAIN; an operator's tool run with another one
      // (p2ctl without P2_DOMAIN) would otherwise create an actor no client can ever name.
      if (command.federationId !== `${command.localName}@${command.homeDomain}`) throw domainErrors.notOfThisServer(command.federationId, command.homeDomain);
      // before "taken", so that /register does not tell whether an administrator exists yet
      if (command.reservedName && !command.byOperator) throw domainErrors.nameReserved(command.localName);
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
      checkOpenSession(state, command);
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
    case 'LogOutSession': {
      const session = state.sessions[command.sessionId];
      if (!session) throw domainErrors.sessionNotFound(command.sessionId);
      // The gateway let the token in, so the session had it: a concurrent logout or deletion on the
      // same token (or a rotation, an identify) ended it since, and that is a dead token, not a missing session.
      if (!session.active || session.tokenHash !== command.tokenHash) throw domainErrors.tokenEnded();
      return [
        {
          type: 'SessionLoggedOut',
          data: {
            federationId: command.federationId,
            sessionId: command.sessionId,
            serial: session.serial,
            tokenHash: command.tokenHash,
            loggedOutAt: command.at.toISOString(),
          },
        },
      ];
    }
    case 'DeleteSession': {
      const own = state.sessions[command.sessionId];
      // Deleting the calling session: a concurrent deletion or logout on the same token ended it
      // after the gateway checked it; the caller holds a dead token (401), as on a retry.
      if (command.callerTokenHash !== undefined && own !== undefined && own.tokenHash !== command.callerTokenHash) throw domainErrors.tokenEnded();
      if (!isSessionIdInUse(state, command.sessionId, command.at)) throw domainErrors.sessionNotFound(command.sessionId);
      const { serial } = state.sessions[command.sessionId]!;
      const at = command.at.toISOString();
      const ids = { federationId: command.federationId, sessionId: command.sessionId, serial };
      return [
        { type: 'SessionDeleted', data: { ...ids, deletedAt: at } },
        { type: 'IdCertInvalidated', data: { ...ids, invalidatedAt: at, reason: 'session-deleted' } },
      ];
    }
    case 'RotateIdCert': {
      const session = checkRotateIdCert(state, command);
      const at = command.at.toISOString();
      const ids = { federationId: command.federationId, sessionId: command.sessionId };
      return [
        { type: 'IdCertInvalidated', data: { ...ids, serial: session.serial, invalidatedAt: at, reason: 'rotated' } },
        {
          type: 'IdCertRotated',
          data: {
            ...ids,
            previousSerial: session.serial,
            serial: command.cert.serial,
            certPem: command.cert.certPem,
            publicKey: command.cert.publicKey,
            notBefore: command.cert.notBefore,
            notAfter: command.cert.notAfter,
            rootSerial: command.cert.rootSerial,
            tokenHash: command.tokenHash,
            rotatedAt: at,
          },
        },
      ];
    }
    case 'InvalidateIdCert': {
      const session = state.sessions[command.sessionId];
      // Already invalid (or replaced meanwhile): nothing left to do, and that is not an error.
      if (!session || !session.active || session.serial !== command.serial) return [];
      return [
        {
          type: 'IdCertInvalidated',
          data: {
            federationId: command.federationId,
            sessionId: command.sessionId,
            serial: command.serial,
            invalidatedAt: command.at.toISOString(),
            reason: command.reason,
          },
        },
      ];
    }
    case 'IdentifySession': {
      // Only the session's current, valid cert gets a token: an old cert of a rotated session, an
      // invalidated or expired one is refused (docs/protocol.md#identify: checked before the challenge).
      const session = state.sessions[command.sessionId];
      if (!session || session.serial !== command.serial || !isSessionIdInUse(state, command.sessionId, command.at)) {
        throw domainErrors.certInvalidated(command.serial);
      }
      return [
        {
          type: 'SessionIdentified',
          data: {
            federationId: command.federationId,
            sessionId: command.sessionId,
            serial: command.serial,
            tokenHash: command.tokenHash,
            identifiedAt: command.at.toISOString(),
          },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

export const actorDecider: Decider<ActorState, ActorCommand, ActorEvent> = { initialState, evolve, decide };

import { spec } from '@p2/testing';
import { actorDecider, DomainError, type ActorEvent, type IssuedIdCert } from '../src';

const at = new Date('2026-01-01T00:00:00Z');
const registered: ActorEvent = { type: 'ActorRegistered', data: { federationId: 'alice@example.com', localName: 'alice', registeredAt: at.toISOString() } };
const cert = (serial: string, notAfter = '2026-02-01T00:00:00.000Z'): IssuedIdCert => ({
  serial,
  certPem: 'PEM',
  publicKey: 'KEY',
  notBefore: '2025-12-31T23:59:00.000Z',
  notAfter,
  rootSerial: '1',
});
const issued = (sessionId: string, serial: string, notAfter?: string): ActorEvent => ({
  type: 'IdCertIssued',
  data: { ...cert(serial, notAfter), federationId: 'alice@example.com', sessionId, issuedAt: at.toISOString() },
});
const codeOf = (code: string) => (error: unknown) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
};

describe('actor decider', () => {
  it('registers a new actor', () => {
    spec(actorDecider).given([]).when({ type: 'RegisterActor', federationId: 'alice@example.com', localName: 'alice', homeDomain: 'example.com', reservedName: false, byOperator: false, at }).then([registered]);
  });

  it('refuses a second registration of the same federation ID', () => {
    spec(actorDecider)
      .given([registered])
      .when({ type: 'RegisterActor', federationId: 'alice@example.com', localName: 'alice', homeDomain: 'example.com', reservedName: false, byOperator: false, at })
      .thenThrows(codeOf('P2CORE_FEDERATION_ID_TAKEN'));
  });

  it("refuses a federation ID that is not the name at this server's domain (an operator's tool run with another P2_DOMAIN)", () => {
    const register = (federationId: string, localName: string) => ({ type: 'RegisterActor', federationId, localName, homeDomain: 'example.com', reservedName: false, byOperator: true, at }) as const;
    spec(actorDecider).given([]).when(register('root@localhost', 'root')).thenThrows(codeOf('P2CORE_INVALID_ACTOR_NAME'));
    spec(actorDecider).given([]).when(register('bob@example.com', 'alice')).thenThrows(codeOf('P2CORE_INVALID_ACTOR_NAME'));
    spec(actorDecider).given([]).when(register('alice@example.com.evil', 'alice')).thenThrows(codeOf('P2CORE_INVALID_ACTOR_NAME'));
  });

  it('refuses a name of P2_ADMINS unless an operator registers it, before saying whether it is taken', () => {
    const root = { type: 'RegisterActor', federationId: 'root@example.com', localName: 'root', homeDomain: 'example.com', reservedName: true, at } as const;
    spec(actorDecider).given([]).when({ ...root, byOperator: false }).thenThrows(codeOf('P2CORE_NAME_RESERVED'));
    const rootRegistered = { type: 'ActorRegistered', data: { federationId: 'root@example.com', localName: 'root', registeredAt: at.toISOString() } } as const;
    spec(actorDecider).given([rootRegistered]).when({ ...root, byOperator: false }).thenThrows(codeOf('P2CORE_NAME_RESERVED'));
    spec(actorDecider).given([]).when({ ...root, byOperator: true }).then([rootRegistered]);
    spec(actorDecider).given([rootRegistered]).when({ ...root, byOperator: true }).thenThrows(codeOf('P2CORE_FEDERATION_ID_TAKEN'));
  });

  it('opens a session: SessionOpened then IdCertIssued', () => {
    spec(actorDecider)
      .given([registered])
      .when({ type: 'OpenSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h', cert: cert('7'), at })
      .then([
        { type: 'SessionOpened', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', tokenHash: 'h', openedAt: at.toISOString() } },
        issued('s1', '7'),
      ]);
  });

  it('refuses a session for an actor that is not registered', () => {
    spec(actorDecider)
      .given([])
      .when({ type: 'OpenSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h', cert: cert('7'), at })
      .thenThrows(codeOf('P2CORE_ACTOR_NOT_FOUND'));
  });

  it('refuses a session ID held by a valid cert', () => {
    spec(actorDecider)
      .given([registered, issued('s1', '7')])
      .when({ type: 'OpenSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h2', cert: cert('8'), at })
      .thenThrows(codeOf('P2CORE_SESSION_ID_IN_USE'));
  });

  it('frees a session ID once its cert has expired', () => {
    spec(actorDecider)
      .given([registered, issued('s1', '7', '2025-12-31T00:00:00.000Z')])
      .when({ type: 'OpenSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h2', cert: cert('8'), at })
      .then([
        { type: 'SessionOpened', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '8', tokenHash: 'h2', openedAt: at.toISOString() } },
        issued('s1', '8'),
      ]);
  });

  it("keeps a session ID taken through its cert's notAfter, inclusive, and frees it a second later (docs/protocol.md#cert-validity)", () => {
    const notAfter = '2026-01-01T00:00:00.000Z'; // = at
    const open = (when: Date) => ({ type: 'OpenSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h2', cert: cert('8'), at: when }) as const;
    spec(actorDecider).given([registered, issued('s1', '7', notAfter)]).when(open(at)).thenThrows(codeOf('P2CORE_SESSION_ID_IN_USE'));
    const later = new Date(at.getTime() + 1000);
    spec(actorDecider)
      .given([registered, issued('s1', '7', notAfter)])
      .when(open(later))
      .then([
        { type: 'SessionOpened', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '8', tokenHash: 'h2', openedAt: later.toISOString() } },
        { type: 'IdCertIssued', data: { ...cert('8'), federationId: 'alice@example.com', sessionId: 's1', issuedAt: later.toISOString() } },
      ]);
  });

  const opened = (sessionId: string, serial: string, tokenHash: string): ActorEvent[] => [
    { type: 'SessionOpened', data: { federationId: 'alice@example.com', sessionId, serial, tokenHash, openedAt: at.toISOString() } },
    issued(sessionId, serial),
  ];

  it('logs out the session whose token is presented', () => {
    spec(actorDecider)
      .given([registered, ...opened('s1', '7', 'h')])
      .when({ type: 'LogOutSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h', at })
      .then([{ type: 'SessionLoggedOut', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', tokenHash: 'h', loggedOutAt: at.toISOString() } }]);
  });

  it('refuses a logout whose token is no longer the live one as a dead token (401), not a missing session', () => {
    const loggedOut: ActorEvent = { type: 'SessionLoggedOut', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', tokenHash: 'h', loggedOutAt: at.toISOString() } };
    const logOut = { type: 'LogOutSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h', at } as const;
    // logged out already (a racing logout on the same token)
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h'), loggedOut]).when(logOut).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    // deleted meanwhile
    const deleted: ActorEvent[] = [
      { type: 'SessionDeleted', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', deletedAt: at.toISOString() } },
      { type: 'IdCertInvalidated', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'session-deleted' } },
    ];
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h'), ...deleted]).when(logOut).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    // a session that never existed keeps its 404
    spec(actorDecider).given([registered]).when(logOut).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
  });

  it("deleting the caller's own session after its token was ended (a racing deletion or logout) is a dead token (401)", () => {
    const del = (callerTokenHash?: string) => ({ type: 'DeleteSession', federationId: 'alice@example.com', sessionId: 's1', ...(callerTokenHash ? { callerTokenHash } : {}), at }) as const;
    const deleted: ActorEvent[] = [
      { type: 'SessionDeleted', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', deletedAt: at.toISOString() } },
      { type: 'IdCertInvalidated', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'session-deleted' } },
    ];
    const loggedOut: ActorEvent = { type: 'SessionLoggedOut', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', tokenHash: 'h', loggedOutAt: at.toISOString() } };
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h')]).when(del('h')).then(deleted);
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h'), ...deleted]).when(del('h')).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h'), loggedOut]).when(del('h')).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    // another session deleting it: the deletion's own answer
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h'), ...deleted]).when(del()).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
  });

  it('deletes a session: SessionDeleted then IdCertInvalidated, and the session ID is free again', () => {
    const deleted: ActorEvent[] = [
      { type: 'SessionDeleted', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', deletedAt: at.toISOString() } },
      { type: 'IdCertInvalidated', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'session-deleted' } },
    ];
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h')]).when({ type: 'DeleteSession', federationId: 'alice@example.com', sessionId: 's1', at }).then(deleted);
    spec(actorDecider)
      .given([registered, ...opened('s1', '7', 'h'), ...deleted])
      .when({ type: 'DeleteSession', federationId: 'alice@example.com', sessionId: 's1', at })
      .thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
    spec(actorDecider)
      .given([registered, ...opened('s1', '7', 'h'), ...deleted])
      .when({ type: 'OpenSession', federationId: 'alice@example.com', sessionId: 's1', tokenHash: 'h3', cert: cert('9'), at })
      .then([
        { type: 'SessionOpened', data: { federationId: 'alice@example.com', sessionId: 's1', serial: '9', tokenHash: 'h3', openedAt: at.toISOString() } },
        issued('s1', '9'),
      ]);
  });
});

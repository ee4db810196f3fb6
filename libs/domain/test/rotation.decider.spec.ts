import { spec } from '@p2/testing';
import {
  actorDecider,
  DomainError,
  inboxDecider,
  serverDecider,
  type ActorEvent,
  type InboxEvent,
  type IssuedIdCert,
  type ServerEvent,
} from '../src';

const at = new Date('2026-01-02T00:00:00Z');
const fid = 'alice@example.com';
const cert = (serial: string, notAfter = '2026-02-01T00:00:00.000Z'): IssuedIdCert => ({
  serial,
  certPem: `PEM${serial}`,
  publicKey: 'KEY',
  notBefore: '2025-12-31T23:59:00.000Z',
  notAfter,
  rootSerial: '1',
});
const history: ActorEvent[] = [
  { type: 'ActorRegistered', data: { federationId: fid, localName: 'alice', registeredAt: '2026-01-01T00:00:00.000Z' } },
  { type: 'SessionOpened', data: { federationId: fid, sessionId: 's1', serial: '7', tokenHash: 'h1', openedAt: '2026-01-01T00:00:00.000Z' } },
  { type: 'IdCertIssued', data: { ...cert('7'), federationId: fid, sessionId: 's1', issuedAt: '2026-01-01T00:00:00.000Z' } },
];
const rotate = (currentSerial = '7', sessionId = 's1') =>
  ({ type: 'RotateIdCert', federationId: fid, sessionId, currentSerial, tokenHash: 'h2', cert: cert('8'), at }) as const;
const codeOf = (code: string) => (error: unknown) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
};
const rotated: ActorEvent[] = [
  { type: 'IdCertInvalidated', data: { federationId: fid, sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'rotated' } },
  {
    type: 'IdCertRotated',
    data: { federationId: fid, sessionId: 's1', previousSerial: '7', ...cert('8'), tokenHash: 'h2', rotatedAt: at.toISOString() },
  },
];

describe('actor decider: cert rotation and server-side invalidation', () => {
  it('rotates: the old cert is invalidated, the new cert and token come in one event', () => {
    spec(actorDecider).given(history).when(rotate()).then(rotated);
  });

  it('after a rotation the session is live on the new cert, with the new token', () => {
    const state = [...history, ...rotated].reduce(actorDecider.evolve, actorDecider.initialState());
    expect(state.sessions.s1).toEqual({ serial: '8', notBefore: cert('8').notBefore, notAfter: cert('8').notAfter, active: true, tokenHash: 'h2' });
    // rotating again must name the new cert
    spec(actorDecider).given([...history, ...rotated]).when(rotate('7')).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
  });

  it('refuses to rotate an unknown, deleted or expired session', () => {
    spec(actorDecider).given(history).when(rotate('7', 'other')).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
    const deleted: ActorEvent[] = [
      ...history,
      { type: 'SessionDeleted', data: { federationId: fid, sessionId: 's1', serial: '7', deletedAt: at.toISOString() } },
      { type: 'IdCertInvalidated', data: { federationId: fid, sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'session-deleted' } },
    ];
    spec(actorDecider).given(deleted).when(rotate()).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
    const late = { ...rotate(), at: new Date('2026-03-01T00:00:00Z') };
    spec(actorDecider).given(history).when(late).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
  });

  it('invalidates a cert for a compromised root, and frees its session ID; a second time records nothing', () => {
    const command = { type: 'InvalidateIdCert', federationId: fid, sessionId: 's1', serial: '7', reason: 'server-key-compromised', at } as const;
    const invalidated: ActorEvent = {
      type: 'IdCertInvalidated',
      data: { federationId: fid, sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'server-key-compromised' },
    };
    spec(actorDecider).given(history).when(command).then([invalidated]);
    spec(actorDecider).given([...history, invalidated]).when(command).then([]);
    // a cert that was already replaced by a rotation is left alone
    spec(actorDecider).given([...history, ...rotated]).when(command).then([]);
    const state = [...history, invalidated].reduce(actorDecider.evolve, actorDecider.initialState());
    expect(state.sessions.s1?.active).toBe(false);
    expect(state.sessions.s1?.tokenHash).toBeUndefined();
  });
});

describe('server decider: key rotation', () => {
  const root = (serial: string) => ({ serial, certPem: `ROOT${serial}`, publicKey: 'K', notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' });
  const generated: ServerEvent = { type: 'ServerKeyGenerated', data: { ...root('1'), generatedAt: '2026-01-01T00:00:00.000Z' } };
  const command = { type: 'RotateServerKey', previousSerial: '1', root: root('2'), compromised: false, requestedBy: 'root@example.com', at } as const;

  it('replaces the current root, naming the previous one', () => {
    spec(serverDecider)
      .given([generated])
      .when(command)
      .then([
        {
          type: 'ServerKeyRotated',
          data: { ...root('2'), previousSerial: '1', rotatedAt: at.toISOString(), compromised: false, requestedBy: 'root@example.com' },
        },
      ]);
  });

  it('refuses a rotation prepared against a root that is no longer current, or before any root exists', () => {
    spec(serverDecider).given([generated]).when({ ...command, previousSerial: '0' }).thenThrows(codeOf('P2CORE_UNAVAILABLE'));
    spec(serverDecider).given([]).when(command).thenThrows(codeOf('P2CORE_UNAVAILABLE'));
  });

  it('a rotated root is the current one', () => {
    const rotatedRoot: ServerEvent = {
      type: 'ServerKeyRotated',
      data: { ...root('2'), previousSerial: '1', rotatedAt: at.toISOString(), compromised: true, requestedBy: 'root@example.com' },
    };
    const state = [generated, rotatedRoot].reduce(serverDecider.evolve, serverDecider.initialState());
    expect(state.current?.serial).toBe('2');
  });
});

describe('inbox decider', () => {
  const ack = (upTo: number) => ({ type: 'AcknowledgeInbox', federationId: fid, sessionId: 's1', upTo, at }) as const;
  const acked = (upTo: number): InboxEvent => ({ type: 'InboxAcknowledged', data: { federationId: fid, sessionId: 's1', upTo, acknowledgedAt: at.toISOString() } });

  it('records how far a session fetched, and nothing for a position it already passed', () => {
    spec(inboxDecider).given([]).when(ack(3)).then([acked(3)]);
    spec(inboxDecider).given([acked(3)]).when(ack(5)).then([acked(5)]);
    spec(inboxDecider).given([acked(5)]).when(ack(5)).then([]);
    spec(inboxDecider).given([acked(5)]).when(ack(2)).then([]);
  });
});

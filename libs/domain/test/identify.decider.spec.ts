import { spec } from '@p2/testing';
import { actorDecider, challengeDecider, challengeRefusal, DomainError, fold, type ActorEvent, type ChallengeEvent } from '../src';

const fid = 'alice@example.com';
const at = new Date('2026-01-01T00:00:00Z');
const later = (seconds: number) => new Date(at.getTime() + seconds * 1000);
const codeOf = (code: string, message?: RegExp) => (error: unknown) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
  if (message) expect((error as DomainError).message).toMatch(message);
};

describe('actor decider: IdentifySession', () => {
  const registered: ActorEvent = { type: 'ActorRegistered', data: { federationId: fid, localName: 'alice', registeredAt: at.toISOString() } };
  const opened = (sessionId: string, serial: string, tokenHash: string, notAfter = '2026-02-01T00:00:00.000Z'): ActorEvent[] => [
    { type: 'SessionOpened', data: { federationId: fid, sessionId, serial, tokenHash, openedAt: at.toISOString() } },
    {
      type: 'IdCertIssued',
      data: {
        federationId: fid,
        sessionId,
        serial,
        certPem: 'PEM',
        publicKey: 'KEY',
        notBefore: '2025-12-31T23:59:00.000Z',
        notAfter,
        issuedAt: at.toISOString(),
        rootSerial: '1',
      },
    },
  ];
  const identify = (serial: string, tokenHash: string, when = at) =>
    ({ type: 'IdentifySession', federationId: fid, sessionId: 's1', serial, tokenHash, at: when }) as const;
  const identified = (serial: string, tokenHash: string): ActorEvent => ({
    type: 'SessionIdentified',
    data: { federationId: fid, sessionId: 's1', serial, tokenHash, identifiedAt: at.toISOString() },
  });

  it("gives the session's current cert a new token", () => {
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h1')]).when(identify('7', 'h2')).then([identified('7', 'h2')]);
  });

  it('the new token replaces the previous one: the old token can no longer log out, the new one can', () => {
    const history = [registered, ...opened('s1', '7', 'h1'), identified('7', 'h2')];
    expect(fold(actorDecider, history).sessions.s1!.tokenHash).toBe('h2');
    spec(actorDecider)
      .given(history)
      .when({ type: 'LogOutSession', federationId: fid, sessionId: 's1', tokenHash: 'h1', at })
      .thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
    spec(actorDecider)
      .given(history)
      .when({ type: 'LogOutSession', federationId: fid, sessionId: 's1', tokenHash: 'h2', at })
      .then([{ type: 'SessionLoggedOut', data: { federationId: fid, sessionId: 's1', serial: '7', tokenHash: 'h2', loggedOutAt: at.toISOString() } }]);
  });

  it('gives a logged-out session a token again', () => {
    const loggedOut: ActorEvent = { type: 'SessionLoggedOut', data: { federationId: fid, sessionId: 's1', serial: '7', tokenHash: 'h1', loggedOutAt: at.toISOString() } };
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h1'), loggedOut]).when(identify('7', 'h3')).then([identified('7', 'h3')]);
  });

  it('refuses a cert that is not the session\'s current one', () => {
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h1')]).when(identify('8', 'h2')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
  });

  it('refuses an invalidated cert (session deleted)', () => {
    const deleted: ActorEvent[] = [
      { type: 'SessionDeleted', data: { federationId: fid, sessionId: 's1', serial: '7', deletedAt: at.toISOString() } },
      { type: 'IdCertInvalidated', data: { federationId: fid, sessionId: 's1', serial: '7', invalidatedAt: at.toISOString(), reason: 'session-deleted' } },
    ];
    spec(actorDecider).given([registered, ...opened('s1', '7', 'h1'), ...deleted]).when(identify('7', 'h2')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
  });

  it('refuses an expired cert', () => {
    spec(actorDecider)
      .given([registered, ...opened('s1', '7', 'h1', '2026-01-01T00:00:10.000Z')])
      .when(identify('7', 'h2', later(11)))
      .thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
  });

  it('refuses an unknown session and an unknown actor', () => {
    spec(actorDecider).given([registered]).when(identify('7', 'h2')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
    spec(actorDecider).given([]).when(identify('7', 'h2')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
  });
});

describe('challenge decider', () => {
  const value = 'aB3'.repeat(21) + 'x';
  const expiresAt = later(300);
  const issue = (bound: { boundFederationId?: string; boundSessionId?: string } = {}) =>
    ({ type: 'IssueChallenge', challenge: value, expiresAt, at, ...bound }) as const;
  const issued = (bound: { boundFederationId?: string; boundSessionId?: string } = {}): ChallengeEvent => ({
    type: 'ChallengeIssued',
    data: { challenge: value, issuedAt: at.toISOString(), expiresAt: expiresAt.toISOString(), ...bound },
  });
  const consume = (when: Date, who: { federationId?: string; sessionId?: string } = {}) =>
    ({ type: 'ConsumeChallenge', challenge: value, serial: '7', federationId: who.federationId ?? fid, sessionId: who.sessionId ?? 's1', at: when }) as const;
  const consumed = (when: Date): ChallengeEvent => ({
    type: 'ChallengeConsumed',
    data: { challenge: value, federationId: fid, sessionId: 's1', serial: '7', consumedAt: when.toISOString() },
  });

  it('issues a challenge, with or without a binding', () => {
    spec(challengeDecider).given([]).when(issue()).then([issued()]);
    spec(challengeDecider)
      .given([])
      .when(issue({ boundFederationId: fid, boundSessionId: 's1' }))
      .then([issued({ boundFederationId: fid, boundSessionId: 's1' })]);
  });

  it('never issues the same string twice, nor one that is already expired', () => {
    spec(challengeDecider).given([issued()]).when(issue()).thenThrows(codeOf('P2CORE_INTERNAL'));
    spec(challengeDecider).given([]).when({ ...issue(), expiresAt: at }).thenThrows(codeOf('P2CORE_INTERNAL'));
  });

  it('is consumed once, up to and including its expiry instant', () => {
    spec(challengeDecider).given([issued()]).when(consume(later(1))).then([consumed(later(1))]);
    spec(challengeDecider).given([issued()]).when(consume(expiresAt)).then([consumed(expiresAt)]);
  });

  it('refuses a second use', () => {
    spec(challengeDecider)
      .given([issued(), consumed(later(1))])
      .when(consume(later(2)))
      .thenThrows(codeOf('P2CORE_CHALLENGE_FAILED', /already been used/));
  });

  it('refuses an expired challenge', () => {
    spec(challengeDecider).given([issued()]).when(consume(later(301))).thenThrows(codeOf('P2CORE_CHALLENGE_FAILED', /expired/));
  });

  it('refuses a challenge it never issued', () => {
    spec(challengeDecider).given([]).when(consume(later(1))).thenThrows(codeOf('P2CORE_CHALLENGE_FAILED', /not issued/));
  });

  it('keeps a bound challenge for its actor and session', () => {
    const bound = [issued({ boundFederationId: fid, boundSessionId: 's1' })];
    spec(challengeDecider).given(bound).when(consume(later(1))).then([consumed(later(1))]);
    spec(challengeDecider)
      .given(bound)
      .when(consume(later(1), { federationId: 'bob@example.com' }))
      .thenThrows(codeOf('P2CORE_CHALLENGE_FAILED', /another actor/));
    spec(challengeDecider)
      .given(bound)
      .when(consume(later(1), { sessionId: 's2' }))
      .thenThrows(codeOf('P2CORE_CHALLENGE_FAILED', /another session/));
    spec(challengeDecider)
      .given([issued({ boundSessionId: 's1' })])
      .when(consume(later(1), { federationId: 'bob@example.com' }))
      .then([{ ...consumed(later(1)), data: { ...consumed(later(1)).data, federationId: 'bob@example.com' } } as ChallengeEvent]);
  });

  it('challengeRefusal is the same rule the gateway checks first', () => {
    const state = fold(challengeDecider, [issued()]);
    expect(challengeRefusal(state, { federationId: fid, sessionId: 's1', at: later(1) })).toBeUndefined();
    expect(challengeRefusal(state, { federationId: fid, sessionId: 's1', at: later(301) })).toMatch(/expired/);
  });

  it('replays a consumption without an issuance without throwing', () => {
    expect(fold(challengeDecider, [consumed(later(1))])).toEqual(expect.objectContaining({ issued: true, consumed: true }));
  });
});

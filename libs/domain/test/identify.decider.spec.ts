import { spec } from '@p2/testing';
import { actorDecider, CHALLENGE_REFUSAL, challengeExpired, challengeRefusal, DomainError, fold, type ActorEvent, type ChallengeTerms } from '../src';

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
      .thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
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

describe('challenge rules', () => {
  const terms = (over: Partial<ChallengeTerms> = {}): ChallengeTerms => ({ expires: later(300).getTime() / 1000, actor: 'unbound', session: 'unbound', ...over });

  it('accepts a challenge up to and including its expiry second, and not a millisecond later', () => {
    expect(challengeRefusal(terms(), later(1))).toBeUndefined();
    expect(challengeRefusal(terms(), later(300))).toBeUndefined();
    expect(challengeRefusal(terms(), new Date(later(300).getTime() + 1))).toBe(CHALLENGE_REFUSAL.expired);
    expect(challengeExpired(terms().expires, later(300))).toBe(false);
    expect(challengeExpired(terms().expires, later(301))).toBe(true);
  });

  it('keeps a bound challenge for its actor and session', () => {
    expect(challengeRefusal(terms({ actor: 'this', session: 'this' }), later(1))).toBeUndefined();
    expect(challengeRefusal(terms({ actor: 'another', session: 'this' }), later(1))).toMatch(/another actor/);
    expect(challengeRefusal(terms({ actor: 'this', session: 'another' }), later(1))).toMatch(/another session/);
    expect(challengeRefusal(terms({ session: 'this' }), later(1))).toBeUndefined();
  });

  it('says expired before it says bound elsewhere', () => {
    expect(challengeRefusal(terms({ actor: 'another' }), later(301))).toMatch(/expired/);
  });
});

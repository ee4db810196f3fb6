import { spec } from '@p2/testing';
import {
  DomainError,
  fold,
  foreignCertRefusal,
  foreignServerDecider,
  FRESH_WORD_GRACE_MS,
  foreignSessionDecider,
  isNewerForeignCert,
  type ForeignServerEvent,
  type ForeignSessionEvent,
  type VerifiedForeignCert,
  type VerifiedForeignRoot,
} from '../src';

const at = new Date('2026-03-01T12:00:00Z');
const later = (seconds: number) => new Date(at.getTime() + seconds * 1000);
const iso = (d: Date) => d.toISOString();
const codeOf = (code: string, message?: RegExp) => (error: unknown) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
  if (message) expect((error as DomainError).message).toMatch(message);
};

describe('foreign server decider (docs/protocol.md#federation-cache)', () => {
  const root = (serial: string, notBefore = '2026-01-01T00:00:00.000Z'): VerifiedForeignRoot => ({
    serial,
    certPem: `PEM ${serial}`,
    publicKey: `KEY ${serial}`,
    notBefore,
    notAfter: '2027-01-01T00:00:00.000Z',
  });
  const cache = (serial: string, current: boolean, when = at, notBefore?: string) =>
    ({ type: 'CacheForeignServerCert', domain: 'a.example', root: root(serial, notBefore), current, cacheUntil: later(600), at: when }) as const;
  const cached = (serial: string, current: boolean, extra: { replaces?: string; when?: Date; notBefore?: string } = {}): ForeignServerEvent => ({
    type: 'ForeignServerCertCached',
    data: {
      domain: 'a.example',
      ...root(serial, extra.notBefore),
      current,
      ...(extra.replaces ? { replaces: extra.replaces } : {}),
      cacheUntil: iso(later(600)),
      fetchedAt: iso(extra.when ?? at),
    },
  });

  it('records the current root', () => {
    spec(foreignServerDecider).given([]).when(cache('1', true)).then([cached('1', true)]);
  });

  it('a new current root replaces the previous one, which is superseded from then on', () => {
    spec(foreignServerDecider).given([cached('1', true)]).when(cache('2', true, later(5))).then([cached('2', true, { replaces: '1', when: later(5) })]);
    const state = fold(foreignServerDecider, [cached('1', true), cached('2', true, { replaces: '1', when: later(5) })]);
    expect(state.currentSerial).toBe('2');
    expect(state.roots['1']!.supersededAt).toBe(iso(later(5)));
    expect(state.roots['2']!.supersededAt).toBeUndefined();
  });

  it('a past root (fetched for a timestamp) does not change the current one', () => {
    spec(foreignServerDecider).given([cached('2', true)]).when(cache('1', false)).then([cached('1', false)]);
    expect(fold(foreignServerDecider, [cached('2', true), cached('1', false)]).currentSerial).toBe('2');
  });

  it('never goes back to a replaced root as the current one', () => {
    spec(foreignServerDecider)
      .given([cached('1', true), cached('2', true, { replaces: '1' })])
      .when(cache('1', true))
      .thenThrows(codeOf('P2CORE_NOT_FEDERATED', /replaced before/));
  });

  describe('a root first learnt as a past root (docs/protocol.md#foreign-invalidation)', () => {
    // P, the domain's old root, and C, the one it rotated to: C started after P
    const P = { notBefore: '2026-01-01T00:00:00.000Z' };
    const C = { notBefore: '2026-02-01T00:00:00.000Z' };
    const D = { notBefore: '2026-03-01T00:00:00.000Z' };

    it('recorded while a root that started after it is current: superseded from then on, and never current', () => {
      // what the verifier does on first contact after the rotation: the current root C, then P for a cert of P's time
      const history = [cached('C', true, { ...C, when: at }), cached('P', false, { ...P, when: later(1) })];
      spec(foreignServerDecider).given([cached('C', true, C)]).when(cache('P', false, later(1), P.notBefore)).then([cached('P', false, { ...P, when: later(1) })]);
      const state = fold(foreignServerDecider, history);
      expect({ current: state.currentSerial, P: state.roots['P']!.supersededAt, C: state.roots['C']!.supersededAt }).toEqual({ current: 'C', P: iso(later(1)), C: undefined });
      // a replayed answer or a restored backup names P current: refused, and C stays current
      spec(foreignServerDecider).given(history).when(cache('P', true, later(5), P.notBefore)).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /replaced before/));
      spec(foreignServerDecider).given(history).when(cache('C', true, later(10), C.notBefore)).then([cached('C', true, { ...C, when: later(10) })]);
    });

    it('recorded before any current root: superseded when a current root that started after it is recorded', () => {
      const history = [cached('P', false, { ...P, when: at }), cached('C', true, { ...C, when: later(3) })];
      expect(fold(foreignServerDecider, history.slice(0, 1)).roots['P']!.supersededAt).toBeUndefined();
      expect(fold(foreignServerDecider, history).roots['P']!.supersededAt).toBe(iso(later(3)));
      spec(foreignServerDecider).given(history).when(cache('P', true, later(5), P.notBefore)).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /replaced before/));
    });

    it('recorded before any current root, then named current itself: nothing replaced it, it becomes current', () => {
      spec(foreignServerDecider).given([cached('P', false, P)]).when(cache('P', true, later(3), P.notBefore)).then([cached('P', true, { ...P, when: later(3) })]);
      const state = fold(foreignServerDecider, [cached('P', false, P), cached('P', true, { ...P, when: later(3) })]);
      expect({ current: state.currentSerial, P: state.roots['P']!.supersededAt }).toEqual({ current: 'P', P: undefined });
    });

    it('when the current root changes later, the past root keeps the time it was first superseded', () => {
      const history = [cached('C', true, C), cached('P', false, { ...P, when: later(1) }), cached('D', true, { ...D, replaces: 'C', when: later(9) })];
      const state = fold(foreignServerDecider, history);
      expect({ current: state.currentSerial, P: state.roots['P']!.supersededAt, C: state.roots['C']!.supersededAt }).toEqual({ current: 'D', P: iso(later(1)), C: iso(later(9)) });
      for (const [serial, notBefore] of [['P', P.notBefore], ['C', C.notBefore]] as const) {
        spec(foreignServerDecider).given(history).when(cache(serial, true, later(20), notBefore)).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /replaced before/));
      }
      // asked for a time again, it is recorded again and keeps that time
      expect(fold(foreignServerDecider, [...history, cached('P', false, { ...P, when: later(30) })]).roots['P']!.supersededAt).toBe(iso(later(1)));
    });

    it('a root answered for a time that starts after the current one is not superseded: it is newer, and may become current', () => {
      // a domain rolling a new key over its replicas: one still answers C current, another D for a time
      const history = [cached('C', true, C), cached('D', false, { ...D, when: later(1) })];
      expect(fold(foreignServerDecider, history).roots['D']!.supersededAt).toBeUndefined();
      spec(foreignServerDecider).given(history).when(cache('D', true, later(5), D.notBefore)).then([cached('D', true, { ...D, replaces: 'C', when: later(5) })]);
    });

    it('the current root answered for a time stays current and is not superseded', () => {
      const state = fold(foreignServerDecider, [cached('C', true, C), cached('P', false, { ...P, when: later(1) }), cached('C', false, { ...C, when: later(2) })]);
      expect({ current: state.currentSerial, C: state.roots['C']!.supersededAt }).toEqual({ current: 'C', C: undefined });
    });
  });
});

describe('foreign session decider (docs/protocol.md#foreign-sessions)', () => {
  const ids = { federationId: 'alice@a.example', sessionId: 'laptop' } as const;
  const cert = (serial: string, notBefore = '2026-02-01T00:00:00.000Z'): VerifiedForeignCert => ({
    issuerDomain: 'a.example',
    serial,
    certPem: `PEM ${serial}`,
    publicKey: `KEY ${serial}`,
    notBefore,
    notAfter: '2026-04-01T00:00:00.000Z',
    rootSerial: '1',
  });
  const cacheCmd = (c: VerifiedForeignCert, o: { invalidatedAt?: Date; notListed?: true; when?: Date } = {}) =>
    ({
      type: 'CacheForeignIdCert',
      ...ids,
      cert: c,
      ...(o.invalidatedAt ? { invalidatedAt: o.invalidatedAt } : {}),
      ...(o.notListed ? { notListed: true as const } : {}),
      cacheUntil: later(600),
      at: o.when ?? at,
    }) as const;
  const cachedEv = (c: VerifiedForeignCert, o: { invalidatedAt?: Date; notListed?: true; when?: Date; until?: Date } = {}): ForeignSessionEvent => ({
    type: 'ForeignIdCertCached',
    data: {
      ...ids,
      ...c,
      ...(o.invalidatedAt ? { invalidatedAt: iso(o.invalidatedAt) } : {}),
      ...(o.notListed ? { notListed: true as const } : {}),
      cacheUntil: iso(o.until ?? later(600)),
      checkedAt: iso(o.when ?? at),
    },
  });
  const identified = (serial: string, tokenHash: string, when = at): ForeignSessionEvent => ({
    type: 'ForeignSessionIdentified',
    data: { ...ids, serial, tokenHash, identifiedAt: iso(when) },
  });
  const identify = (serial: string, tokenHash: string, o: { when?: Date; rootSupersededAt?: Date; vouchedAt?: Date } = {}) =>
    ({
      type: 'IdentifyForeignSession',
      ...ids,
      serial,
      tokenHash,
      at: o.when ?? at,
      ...(o.rootSupersededAt ? { rootSupersededAt: o.rootSupersededAt } : {}),
      ...(o.vouchedAt ? { vouchedAt: iso(o.vouchedAt) } : {}),
    }) as const;

  it('records what the home server said; an invalidation is recorded once, with the token of the current cert', () => {
    spec(foreignSessionDecider).given([]).when(cacheCmd(cert('7'))).then([cachedEv(cert('7'))]);
    spec(foreignSessionDecider)
      .given([cachedEv(cert('7')), identified('7', 'h1')])
      .when(cacheCmd(cert('7'), { invalidatedAt: later(-5) }))
      .then([
        cachedEv(cert('7'), { invalidatedAt: later(-5) }),
        { type: 'ForeignIdCertInvalidated', data: { ...ids, serial: '7', invalidatedAt: iso(later(-5)), tokenHash: 'h1' } },
      ]);
    const invalidatedOnce = [cachedEv(cert('7')), identified('7', 'h1'), cachedEv(cert('7'), { invalidatedAt: later(-5) }), { type: 'ForeignIdCertInvalidated', data: { ...ids, serial: '7', invalidatedAt: iso(later(-5)), tokenHash: 'h1' } } as ForeignSessionEvent];
    expect(fold(foreignSessionDecider, invalidatedOnce).tokenHash).toBeUndefined();
    spec(foreignSessionDecider).given(invalidatedOnce).when(cacheCmd(cert('7'), { invalidatedAt: later(-5) })).then([cachedEv(cert('7'), { invalidatedAt: later(-5) })]);
  });

  it('an invalidation of a cert that is not the current one kills no token', () => {
    spec(foreignSessionDecider)
      .given([cachedEv(cert('7')), identified('7', 'h1'), cachedEv(cert('8', '2026-02-02T00:00:00.000Z'))])
      .when(cacheCmd(cert('8', '2026-02-02T00:00:00.000Z'), { invalidatedAt: at }))
      .then([cachedEv(cert('8', '2026-02-02T00:00:00.000Z'), { invalidatedAt: at }), { type: 'ForeignIdCertInvalidated', data: { ...ids, serial: '8', invalidatedAt: iso(at) } }]);
  });

  it('a cert its home server no longer lists is invalidated from then on, for good: the token of the current cert dies', () => {
    const notListed = [cachedEv(cert('7'), { invalidatedAt: later(30), notListed: true, when: later(30) }), { type: 'ForeignIdCertInvalidated', data: { ...ids, serial: '7', invalidatedAt: iso(later(30)), tokenHash: 'h1' } } as ForeignSessionEvent];
    spec(foreignSessionDecider).given([cachedEv(cert('7')), identified('7', 'h1')]).when(cacheCmd(cert('7'), { notListed: true, when: later(30) })).then(notListed);
    const after = fold(foreignSessionDecider, [cachedEv(cert('7')), identified('7', 'h1'), ...notListed]);
    expect({ current: after.currentSerial, token: after.tokenHash, invalidated: after.certs['7']!.invalidated }).toEqual({ current: '7', token: undefined, invalidated: true });
    // the cert is used no more: not to sign in, not announced, not when listed again later
    spec(foreignSessionDecider).given([cachedEv(cert('7')), identified('7', 'h1'), ...notListed]).when(identify('7', 'h2', { when: later(31) })).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
    const listedAgain = [cachedEv(cert('7')), identified('7', 'h1'), ...notListed, cachedEv(cert('7'), { when: later(40) })];
    spec(foreignSessionDecider).given(listedAgain).when(identify('7', 'h2', { when: later(41) })).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
    expect(foreignCertRefusal(fold(foreignSessionDecider, listedAgain).certs['7'], later(41))?.code).toBe('P2CORE_CERT_INVALIDATED');
    // a cert vouched for here that is not the session's current one: recorded so, no token dies
    spec(foreignSessionDecider)
      .given([cachedEv(cert('7')), identified('7', 'h1'), cachedEv(cert('8', '2026-02-02T00:00:00.000Z'))])
      .when(cacheCmd(cert('8', '2026-02-02T00:00:00.000Z'), { notListed: true }))
      .then([cachedEv(cert('8', '2026-02-02T00:00:00.000Z'), { invalidatedAt: at, notListed: true }), { type: 'ForeignIdCertInvalidated', data: { ...ids, serial: '8', invalidatedAt: iso(at) } }]);
    // a cert never vouched for here: nothing is recorded (its home server may list it a moment later)
    spec(foreignSessionDecider).given([cachedEv(cert('7')), identified('7', 'h1')]).when(cacheCmd(cert('8', '2026-02-02T00:00:00.000Z'), { notListed: true })).then([]);
    spec(foreignSessionDecider).given([]).when(cacheCmd(cert('8', '2026-02-02T00:00:00.000Z'), { notListed: true })).then([]);
    // once ended, saying so again records the statement only
    spec(foreignSessionDecider)
      .given([cachedEv(cert('7')), identified('7', 'h1'), ...notListed])
      .when(cacheCmd(cert('7'), { notListed: true, when: later(50) }))
      .then([cachedEv(cert('7'), { invalidatedAt: later(50), notListed: true, when: later(50) })]);
  });

  it('an invalidation stays, whatever the home server says later', () => {
    const state = fold(foreignSessionDecider, [cachedEv(cert('7'), { invalidatedAt: at }), cachedEv(cert('7'))]);
    expect(state.certs['7']!.invalidated).toBe(true);
  });

  it('identify: a vouched, valid cert becomes current with a new token', () => {
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(identify('7', 'h1')).then([identified('7', 'h1')]);
    spec(foreignSessionDecider).given([cachedEv(cert('7')), identified('7', 'h1')]).when(identify('7', 'h2')).then([identified('7', 'h2')]);
  });

  it('identify refuses an unknown, invalidated, expired or stale cert', () => {
    spec(foreignSessionDecider).given([]).when(identify('7', 'h1')).thenThrows(codeOf('P2CORE_NOT_FEDERATED'));
    spec(foreignSessionDecider).given([cachedEv(cert('7'), { invalidatedAt: at })]).when(identify('7', 'h1')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED', /invalidated/));
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(identify('7', 'h1', { when: new Date('2026-04-01T00:00:01Z') })).thenThrows(codeOf('P2CORE_CERT_INVALIDATED', /validity/));
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(identify('7', 'h1', { when: later(601) })).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /confirmed/));
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(identify('7', 'h1', { when: later(600) })).then([identified('7', 'h1', later(600))]);
  });

  it('identify refuses a statement older than a change of the root (it must be checked again)', () => {
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(identify('7', 'h1', { rootSupersededAt: later(1) })).thenThrows(codeOf('P2CORE_NOT_FEDERATED'));
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(identify('7', 'h1', { rootSupersededAt: later(-1) })).then([identified('7', 'h1')]);
  });

  describe('the word fetched for the request itself (docs/protocol.md#federation-cache)', () => {
    // a home server that answered `Cache-Control: no-store`: the word's window ends as it is recorded
    const noStore = cachedEv(cert('7'), { until: at });

    it('identify and extern: the word this request recorded answers it, though its window ended before the command was decided', () => {
      spec(foreignSessionDecider).given([noStore]).when(identify('7', 'h1', { when: later(2), vouchedAt: at })).then([identified('7', 'h1', later(2))]);
      const announce = { type: 'AnnounceForeignIdCert', ...ids, serial: '8', at: later(2), vouchedAt: iso(later(1)) } as const;
      spec(foreignSessionDecider)
        .given([cachedEv(cert('7')), identified('7', 'h1'), cachedEv(cert('8', '2026-02-05T00:00:00.000Z'), { when: later(1), until: later(1) })])
        .when(announce)
        .then([{ type: 'ForeignIdCertAnnounced', data: { ...ids, previousSerial: '7', serial: '8', announcedAt: iso(later(2)) } }]);
    });

    it('a newer word recorded meanwhile (the refresher’s, a retry’s) answers it as well; an older one, none, or one past the grace does not', () => {
      spec(foreignSessionDecider)
        .given([noStore, cachedEv(cert('7'), { when: later(1), until: later(1) })])
        .when(identify('7', 'h1', { when: later(2), vouchedAt: at }))
        .then([identified('7', 'h1', later(2))]);
      spec(foreignSessionDecider).given([noStore]).when(identify('7', 'h1', { when: later(2) })).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /confirmed/));
      // the latest word recorded is older than the one the request says it fetched
      spec(foreignSessionDecider).given([noStore]).when(identify('7', 'h1', { when: later(2), vouchedAt: later(1) })).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /confirmed/));
      // a command that waited in Kafka longer than any gateway waits for its reply
      const grace = FRESH_WORD_GRACE_MS / 1000;
      spec(foreignSessionDecider).given([noStore]).when(identify('7', 'h1', { when: later(grace), vouchedAt: at })).then([identified('7', 'h1', later(grace))]);
      spec(foreignSessionDecider).given([noStore]).when(identify('7', 'h1', { when: new Date(later(grace).getTime() + 1), vouchedAt: at })).thenThrows(codeOf('P2CORE_NOT_FEDERATED', /confirmed/));
    });

    it('it still loses to an invalidation, to the cert\'s validity and to a change of the root after it', () => {
      spec(foreignSessionDecider)
        .given([cachedEv(cert('7'), { invalidatedAt: at, until: at })])
        .when(identify('7', 'h1', { when: later(2), vouchedAt: at }))
        .thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
      spec(foreignSessionDecider)
        .given([noStore])
        .when(identify('7', 'h1', { when: new Date('2026-04-01T00:00:01Z'), vouchedAt: at }))
        .thenThrows(codeOf('P2CORE_CERT_INVALIDATED', /validity/));
      spec(foreignSessionDecider).given([noStore]).when(identify('7', 'h1', { when: later(2), vouchedAt: at, rootSupersededAt: later(1) })).thenThrows(codeOf('P2CORE_NOT_FEDERATED'));
    });
  });

  it('identify with a newer cert makes it current; an older cert of the session is refused', () => {
    const older = cert('7', '2026-02-01T00:00:00.000Z');
    const newer = cert('8', '2026-02-05T00:00:00.000Z');
    spec(foreignSessionDecider).given([cachedEv(older), identified('7', 'h1'), cachedEv(newer)]).when(identify('8', 'h2')).then([identified('8', 'h2')]);
    spec(foreignSessionDecider).given([cachedEv(newer), identified('8', 'h1'), cachedEv(older)]).when(identify('7', 'h2')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
  });

  it('extern: a newer vouched cert becomes current and the token stays; the same cert is a no-op; an older one is refused', () => {
    const older = cert('7', '2026-02-01T00:00:00.000Z');
    const newer = cert('8', '2026-02-05T00:00:00.000Z');
    const history = [cachedEv(older), identified('7', 'h1'), cachedEv(newer)];
    const announce = (serial: string) => ({ type: 'AnnounceForeignIdCert', ...ids, serial, at }) as const;
    spec(foreignSessionDecider)
      .given(history)
      .when(announce('8'))
      .then([{ type: 'ForeignIdCertAnnounced', data: { ...ids, previousSerial: '7', serial: '8', announcedAt: iso(at) } }]);
    const after = fold(foreignSessionDecider, [...history, { type: 'ForeignIdCertAnnounced', data: { ...ids, previousSerial: '7', serial: '8', announcedAt: iso(at) } }]);
    expect({ current: after.currentSerial, token: after.tokenHash }).toEqual({ current: '8', token: 'h1' });
    spec(foreignSessionDecider).given(history).when(announce('7')).then([]);
    spec(foreignSessionDecider).given([cachedEv(newer), identified('8', 'h1'), cachedEv(older)]).when(announce('7')).thenThrows(codeOf('P2CORE_CERT_INVALIDATED'));
    spec(foreignSessionDecider).given([cachedEv(newer)]).when(announce('8')).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
  });

  it('a cert of the same start replaces the current one only when the current one is invalidated', () => {
    expect(isNewerForeignCert({ notBefore: '2026-02-01T00:00:00.000Z' }, { notBefore: '2026-02-01T00:00:00.000Z', invalidated: false })).toBe(false);
    expect(isNewerForeignCert({ notBefore: '2026-02-01T00:00:00.000Z' }, { notBefore: '2026-02-01T00:00:00.000Z', invalidated: true })).toBe(true);
    expect(isNewerForeignCert({ notBefore: '2026-02-01T00:00:00.000Z' }, undefined)).toBe(true);
  });

  it('logout: only the live token, which then dies; a token no longer live is a dead token (401), a session never identified is 404', () => {
    const history = [cachedEv(cert('7')), identified('7', 'h1')];
    const logout = (tokenHash: string) => ({ type: 'LogOutForeignSession', ...ids, tokenHash, at }) as const;
    spec(foreignSessionDecider).given(history).when(logout('h0')).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    const out: ForeignSessionEvent = { type: 'ForeignSessionLoggedOut', data: { ...ids, serial: '7', tokenHash: 'h1', loggedOutAt: iso(at) } };
    spec(foreignSessionDecider).given(history).when(logout('h1')).then([out]);
    spec(foreignSessionDecider).given([...history, out]).when(logout('h1')).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    spec(foreignSessionDecider).given([cachedEv(cert('7'))]).when(logout('h1')).thenThrows(codeOf('P2CORE_SESSION_NOT_FOUND'));
  });

  it('foreignCertRefusal is what the gateway asks first, with the same answers', () => {
    const state = fold(foreignSessionDecider, [cachedEv(cert('7'))]);
    expect(foreignCertRefusal(state.certs['7'], at)).toBeUndefined();
    expect(foreignCertRefusal(undefined, at)?.code).toBe('P2CORE_NOT_FEDERATED');
    expect(foreignCertRefusal(state.certs['7'], later(601))?.code).toBe('P2CORE_NOT_FEDERATED');
  });
});

import { decodeCommandData, type KeyPackageData } from '@p2/contracts';
import { spec } from '@p2/testing';
import {
  DomainError,
  fold,
  KEY_PACKAGE_LIMITS,
  keyPackagesDecider,
  readKeyPackage,
  type KeyPackagesCommand,
  type KeyPackagesEvent,
} from '../src';

const at = new Date('2026-01-01T00:00:00Z');
const fid = 'alice@example.com';
const phone = { sessionId: 'phone', serial: '11' };
const laptop = { sessionId: 'laptop', serial: '22' };

const kp = (initKey: string): KeyPackageData => ({ protocolVersion: 'mls10', cipherSuite: '1', initKey, leafNode: 'TEVBRg==', extensions: [] });
const added = (session: typeof phone, ...initKeys: string[]): KeyPackagesEvent => ({
  type: 'KeyPackagesAdded',
  data: { federationId: fid, ...session, keyPackages: initKeys.map(kp), addedAt: at.toISOString() },
});
const lastResort = (session: typeof phone, initKey: string): KeyPackagesEvent => ({
  type: 'LastResortKeyPackageReplaced',
  data: { federationId: fid, ...session, keyPackage: kp(initKey), replacedAt: at.toISOString() },
});
const claimed = (session: typeof phone, initKey: string): KeyPackagesEvent => ({
  type: 'KeyPackageClaimed',
  data: { federationId: fid, ...session, initKey, requestedBy: 'bob@example.com', claimedAt: at.toISOString() },
});
const served = (session: typeof phone, initKey: string, previouslyServed: boolean): KeyPackagesEvent => ({
  type: 'LastResortKeyPackageServed',
  data: { federationId: fid, ...session, initKey, requestedBy: 'bob@example.com', previouslyServed, servedAt: at.toISOString() },
});

const add = (keyPackages: KeyPackageData[], options: { alreadyStored?: string[]; sessionActive?: boolean } = {}): KeyPackagesCommand => ({
  type: 'AddKeyPackages',
  federationId: fid,
  session: phone,
  sessionActive: options.sessionActive ?? true,
  keyPackages,
  alreadyStored: options.alreadyStored ?? [],
  at,
});
const replace = (initKey: string, options: { alreadyStored?: string[]; sessionActive?: boolean; session?: typeof phone } = {}): KeyPackagesCommand => ({
  type: 'ReplaceLastResortKeyPackage',
  federationId: fid,
  session: options.session ?? phone,
  sessionActive: options.sessionActive ?? true,
  keyPackage: kp(initKey),
  alreadyStored: options.alreadyStored ?? [],
  at,
});
const claim = (activeSessions: (typeof phone)[], actorRegistered = true, packageBytes: Record<string, number> = {}): KeyPackagesCommand => ({
  type: 'ClaimKeyPackages',
  federationId: fid,
  actorRegistered,
  requestedBy: 'bob@example.com',
  activeSessions,
  packageBytes,
  at,
});
const codeOf = (code: string) => (error: unknown) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
};

describe('key packages decider', () => {
  describe('AddKeyPackages', () => {
    it('binds the packages to the calling session cert', () => {
      spec(keyPackagesDecider).given([]).when(add([kp('AA=='), kp('AQ==')])).then([added(phone, 'AA==', 'AQ==')]);
    });

    it('refuses an init_key that appears twice in the request', () => {
      spec(keyPackagesDecider).given([]).when(add([kp('AA=='), kp('AA==')])).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
    });

    it('refuses an init_key already stored elsewhere on the server', () => {
      spec(keyPackagesDecider).given([]).when(add([kp('AA==')], { alreadyStored: ['AA=='] })).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
    });

    it('refuses an init_key this actor holds, unclaimed or as a last resort', () => {
      spec(keyPackagesDecider).given([added(laptop, 'AA==')]).when(add([kp('AA==')])).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
      spec(keyPackagesDecider).given([lastResort(laptop, 'AA==')]).when(add([kp('AA==')])).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
    });

    it('refuses a held init_key among many in one request as among a few', () => {
      const fresh = (n: number) => Array.from({ length: n }, (_, i) => kp(Buffer.from(`fresh-${i}`).toString('base64')));
      for (const others of [0, 2, 3, 4, 9, 99]) {
        spec(keyPackagesDecider).given([added(laptop, 'AA==')]).when(add([...fresh(others), kp('AA==')])).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
        spec(keyPackagesDecider).given([added(laptop, 'AA==')]).when(add(fresh(others + 1))).then([added(phone, ...fresh(others + 1).map((p) => p.initKey))]);
      }
    });

    it('refuses when the calling session cert is no longer valid', () => {
      spec(keyPackagesDecider).given([]).when(add([kp('AA==')], { sessionActive: false })).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    });

    it('refuses an empty upload and one over the per-request cap', () => {
      spec(keyPackagesDecider).given([]).when(add([])).thenThrows(codeOf('P2CORE_MALFORMED_REQUEST'));
      const many = Array.from({ length: KEY_PACKAGE_LIMITS.perRequest + 1 }, (_, i) => kp(Buffer.from(`k${i}`).toString('base64')));
      spec(keyPackagesDecider).given([]).when(add(many)).thenThrows(codeOf('P2CORE_KEY_PACKAGE_LIMIT'));
    });

    it('refuses to grow a session stock beyond its cap; claimed packages free room', () => {
      const keys = (from: number, n: number) => Array.from({ length: n }, (_, i) => Buffer.from(`key-${from + i}`).toString('base64'));
      const full = Array.from({ length: KEY_PACKAGE_LIMITS.stockPerSession / 100 }, (_, i) => added(phone, ...keys(i * 100, 100)));
      spec(keyPackagesDecider).given(full).when(add([kp('AA==')])).thenThrows(codeOf('P2CORE_KEY_PACKAGE_LIMIT'));
      spec(keyPackagesDecider)
        .given([...full, claimed(phone, keys(0, 1)[0]!)])
        .when(add([kp('AA==')]))
        .then([added(phone, 'AA==')]);
      // another session's stock does not count
      spec(keyPackagesDecider).given(full.map((e) => ({ ...e, data: { ...e.data, ...laptop } }) as KeyPackagesEvent)).when(add([kp('AA==')])).then([added(phone, 'AA==')]);
    });
  });

  describe('ReplaceLastResortKeyPackage', () => {
    it('puts a last-resort package in place', () => {
      spec(keyPackagesDecider).given([]).when(replace('AA==')).then([lastResort(phone, 'AA==')]);
    });

    it('refuses an init_key stored anywhere, including the current last resort', () => {
      spec(keyPackagesDecider).given([lastResort(phone, 'AA==')]).when(replace('AA==')).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
      spec(keyPackagesDecider).given([]).when(replace('AA==', { alreadyStored: ['AA=='] })).thenThrows(codeOf('P2CORE_DUPLICATE_INIT_KEY'));
    });

    it('refuses when the calling session cert is no longer valid', () => {
      spec(keyPackagesDecider).given([]).when(replace('AA==', { sessionActive: false })).thenThrows(codeOf('P2CORE_UNAUTHORIZED'));
    });

    it('clears the used flag and retires the one bound to an older cert of the session', () => {
      const rotated = { sessionId: 'phone', serial: '33' };
      const state = fold(keyPackagesDecider, [lastResort(phone, 'AA=='), served(phone, 'AA==', false), lastResort(rotated, 'AQ==')]);
      expect(state.stock['11']).toEqual({ sessionId: 'phone', unclaimed: [] });
      expect(state.stock['33']).toEqual({ sessionId: 'phone', unclaimed: [], lastResort: { initKey: 'AQ==', used: false } });
    });
  });

  describe('ClaimKeyPackages', () => {
    it('hands out the oldest unclaimed package of each active session', () => {
      spec(keyPackagesDecider)
        .given([added(phone, 'AA==', 'AQ=='), added(laptop, 'Ag==')])
        .when(claim([laptop, phone]))
        .then([claimed(laptop, 'Ag=='), claimed(phone, 'AA==')]);
    });

    it('never hands out a claimed package again', () => {
      spec(keyPackagesDecider)
        .given([added(phone, 'AA==', 'AQ=='), claimed(phone, 'AA==')])
        .when(claim([phone]))
        .then([claimed(phone, 'AQ==')]);
    });

    it('serves the last resort only when no regular package is left, and reuses it', () => {
      spec(keyPackagesDecider).given([added(phone, 'AA=='), lastResort(phone, 'Lw==')]).when(claim([phone])).then([claimed(phone, 'AA==')]);
      spec(keyPackagesDecider)
        .given([added(phone, 'AA=='), lastResort(phone, 'Lw=='), claimed(phone, 'AA==')])
        .when(claim([phone]))
        .then([served(phone, 'Lw==', false)]);
      spec(keyPackagesDecider)
        .given([lastResort(phone, 'Lw=='), served(phone, 'Lw==', false)])
        .when(claim([phone]))
        .then([served(phone, 'Lw==', true)]);
    });

    it('leaves out sessions with nothing, and packages bound to a cert that is not the active one', () => {
      const rotated = { sessionId: 'phone', serial: '33' };
      spec(keyPackagesDecider).given([added(phone, 'AA=='), lastResort(phone, 'Lw==')]).when(claim([rotated, laptop])).then([]);
    });

    describe('at most KEY_PACKAGE_LIMITS.claimBytes of packages per claim', () => {
      // nine sessions whose packages are ~35 kB each, the largest the format allows
      const sessions = Array.from({ length: 9 }, (_, i) => ({ sessionId: `s${i}`, serial: String(100 + i) }));
      const large = Object.fromEntries(sessions.map((_, i) => [`K${i}==`, 35_000]));
      const stocked = sessions.map((s, i) => added(s, `K${i}==`));

      it('hands out sessions in order until the next package would pass the budget; the rest stay for a later claim', () => {
        const fit = Math.floor(KEY_PACKAGE_LIMITS.claimBytes / (35_000 + 512));
        expect(fit).toBe(7);
        spec(keyPackagesDecider)
          .given(stocked)
          .when(claim(sessions, true, large))
          .then(sessions.slice(0, fit).map((s, i) => claimed(s, `K${i}==`)));
        // those handed out are consumed: the next claim reaches the sessions left out
        spec(keyPackagesDecider)
          .given([...stocked, ...sessions.slice(0, fit).map((s, i) => claimed(s, `K${i}==`))])
          .when(claim(sessions, true, large))
          .then([claimed(sessions[7]!, 'K7=='), claimed(sessions[8]!, 'K8==')]);
      });

      it('counts last resorts like regular packages', () => {
        const resorts = sessions.map((s, i) => lastResort(s, `K${i}==`));
        spec(keyPackagesDecider)
          .given(resorts)
          .when(claim(sessions, true, large))
          .then(sessions.slice(0, 7).map((s, i) => served(s, `K${i}==`, false)));
      });

      it('small packages: every session at once', () => {
        const small = Object.fromEntries(sessions.map((_, i) => [`K${i}==`, 600]));
        spec(keyPackagesDecider)
          .given(stocked)
          .when(claim(sessions, true, small))
          .then(sessions.map((s, i) => claimed(s, `K${i}==`)));
      });

      it('always hands out the first package, whatever its size', () => {
        spec(keyPackagesDecider)
          .given(stocked)
          .when(claim(sessions, true, { ...large, 'K0==': KEY_PACKAGE_LIMITS.claimBytes * 2 }))
          .then([claimed(sessions[0]!, 'K0==')]);
      });

      it('a package whose size the facts do not give counts as the largest the format allows', () => {
        spec(keyPackagesDecider)
          .given(stocked)
          .when(claim(sessions, true, {}))
          .then(sessions.slice(0, 7).map((s, i) => claimed(s, `K${i}==`)));
      });
    });

    it('refuses an actor that is not registered', () => {
      spec(keyPackagesDecider).given([]).when(claim([], false)).thenThrows(codeOf('P2CORE_ACTOR_NOT_FOUND'));
    });
  });

  it('evolve never throws on replay, even for events about unknown certs', () => {
    const state = fold(keyPackagesDecider, [claimed(phone, 'AA=='), served(laptop, 'AQ==', true)]);
    expect(state.stock).toEqual({ '11': { sessionId: 'phone', unclaimed: [] } });
  });
});

describe('KeyPackage format', () => {
  const wire = { protocol_version: 'mls10', cipher_suite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', init_key: 'AAEC', leaf_node: 'TEVBRg', extensions: { a: [1, 'x'] } };
  const codeOfMalformed = (run: () => unknown, field: string) => {
    let thrown: unknown;
    try {
      run();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(DomainError);
    expect((thrown as DomainError).code).toBe('P2CORE_MALFORMED_REQUEST');
    expect((thrown as DomainError).message).toContain(field);
  };

  it('reads the wire form, normalising init_key to standard padded base64 and keeping the rest as sent', () => {
    expect(readKeyPackage(wire, 'key package 0')).toEqual({
      protocolVersion: 'mls10',
      cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
      initKey: 'AAEC',
      leafNode: 'TEVBRg',
      extensions: { a: [1, 'x'] },
    });
    // URL-safe alphabet, no padding: the same bytes get the same init_key
    expect(readKeyPackage({ ...wire, init_key: '-_8' }, 'p').initKey).toBe('+/8=');
    expect(readKeyPackage({ ...wire, init_key: '+/8=' }, 'p').initKey).toBe('+/8=');
    expect(readKeyPackage({ ...wire, extensions: undefined }, 'p').extensions).toBeNull();
  });

  it('produces what the command contract accepts, and the contract refuses what it would not produce', () => {
    const data = readKeyPackage({ ...wire, init_key: '-_8' }, 'p');
    const command = { federationId: 'a@example.com', sessionId: 's', serial: '1', keyPackage: data };
    expect(decodeCommandData('ReplaceLastResortKeyPackage', command).keyPackage).toEqual(data);
    // the spelling the client sent is normalised by the reader; the contract takes the normal form only
    expect(() => decodeCommandData('ReplaceLastResortKeyPackage', { ...command, keyPackage: { ...data, initKey: '-_8' } })).toThrow(/initKey/);
    expect(() => decodeCommandData('ReplaceLastResortKeyPackage', { ...command, keyPackage: { ...data, initKey: 'not base64!' } })).toThrow(/initKey/);
  });

  it.each([
    ['not an object', 'x', 'JSON object'],
    ['an array', [], 'JSON object'],
    ['protocol_version missing', { ...wire, protocol_version: undefined }, 'protocol_version'],
    ['protocol_version a number', { ...wire, protocol_version: 1 }, 'protocol_version'],
    ['cipher_suite empty', { ...wire, cipher_suite: '' }, 'cipher_suite'],
    ['cipher_suite too long', { ...wire, cipher_suite: 'x'.repeat(65) }, 'cipher_suite'],
    ['cipher_suite with a control character', { ...wire, cipher_suite: 'a\nb' }, 'cipher_suite'],
    ['init_key missing', { ...wire, init_key: undefined }, 'init_key'],
    ['init_key not base64', { ...wire, init_key: 'ab$d' }, 'init_key'],
    ['init_key with a bad length', { ...wire, init_key: 'AAAAA' }, 'init_key'],
    ['init_key with misplaced padding', { ...wire, init_key: 'AA=' }, 'init_key'],
    ['init_key too long', { ...wire, init_key: 'A'.repeat(2052) }, 'init_key'],
    ['leaf_node missing', { ...wire, leaf_node: undefined }, 'leaf_node'],
    ['leaf_node empty', { ...wire, leaf_node: '' }, 'leaf_node'],
    ['extensions with NUL', { ...wire, extensions: { k: 'a\u0000b' } }, 'extensions'],
    ['extensions with a lone surrogate key', { ...wire, extensions: { '\ud800': 1 } }, 'extensions'],
    ['extensions too deep', { ...wire, extensions: JSON.parse('['.repeat(40) + ']'.repeat(40)) }, 'extensions'],
    ['extensions too large', { ...wire, extensions: 'x'.repeat(20000) }, 'extensions'],
  ])('refuses %s', (_, raw, field) => {
    codeOfMalformed(() => readKeyPackage(raw, 'key package 0'), field);
  });
});

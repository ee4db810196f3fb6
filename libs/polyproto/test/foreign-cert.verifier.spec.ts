import { generateKeyPairSync } from 'node:crypto';
import {
  buildIdCsr,
  checkValidAt,
  createHomeServerRootCert,
  ed25519SignerFromPrivateKey,
  foreignCacheUntil,
  foreignCertStatus,
  issueActorIdCert,
  readActorCertsDocument,
  readHomeServerCertDocument,
  readIdCert,
  readIdCsr,
  readWellKnown,
  signCacheableIdCert,
  verifyCacheInfo,
  verifyForeignActorCert,
  verifyForeignRoot,
  LATEST_UNIX_SECONDS,
  type CacheInfo,
  type Ed25519Signer,
} from '../src';
import { homeServerName, makeRootCert } from './fixtures/cert-factory';
import { generalizedTime, seq, tlv } from './fixtures/der';
import { expectPolyprotoError } from './fixtures/expect-error';
import { randomKey } from './fixtures/keys';

/** GeneralizedTime of 1 January of `year` (four digits, "0000" included, which a Date cannot spell). */
const generalizedTimeOfYear = (year: string) => tlv(0x18, Buffer.from(`${year}0101000000Z`, 'latin1'));

const at = new Date('2026-03-01T12:00:00Z');
const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const rootStart = new Date('2026-01-01T00:00:00Z');
const rootEnd = new Date('2027-01-01T00:00:00Z');

const newSigner = (): Ed25519Signer => ed25519SignerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);

function root(domain: string, signer = newSigner(), serial = 77n) {
  const cert = createHomeServerRootCert({ domain, serial, notBefore: rootStart, notAfter: rootEnd, signer });
  return { pem: cert.pem, signer, subjectDer: cert.subjectDer };
}

function actorCert(issuer: ReturnType<typeof root>, fid: string, options: { sessionId?: string; serial?: bigint; notBefore?: Date; notAfter?: Date } = {}) {
  const [localName, domain] = fid.split('@') as [string, string];
  const csr = buildIdCsr({ signer: newSigner(), federationId: fid, sessionId: options.sessionId ?? 'laptop' });
  return issueActorIdCert({
    csr: readIdCsr(csr.pem, { domain, actorLocalName: localName }),
    issuerSubjectDer: issuer.subjectDer,
    serial: options.serial ?? 4001n,
    notBefore: options.notBefore ?? new Date('2026-02-01T00:00:00Z'),
    notAfter: options.notAfter ?? new Date('2026-04-01T00:00:00Z'),
    signer: issuer.signer,
  });
}

const readActor = (pem: string) => readIdCert(pem, { target: 'actor' });

describe('verifyForeignRoot (docs/protocol.md#federation-verification)', () => {
  it('accepts a valid self-signed root whose DCs spell the domain, at a time inside its validity', () => {
    const a = root('a.example');
    const read = verifyForeignRoot(a.pem, 'a.example', at);
    expect(read.issuerDomain).toBe('a.example');
    expect(Buffer.from(read.publicKey)).toEqual(Buffer.from(a.signer.publicKey));
  });

  it("refuses a root whose DCs name another domain than the actors' (FOREIGN_ROOT_DOMAIN_MISMATCH)", () => {
    expectPolyprotoError(() => verifyForeignRoot(root('a.example').pem, 'c.example', at), 'FOREIGN_ROOT_DOMAIN_MISMATCH');
    expectPolyprotoError(() => verifyForeignRoot(root('b.a.example').pem, 'a.example', at), 'FOREIGN_ROOT_DOMAIN_MISMATCH');
  });

  it('refuses a root outside its validity, or an actor cert offered as a root', () => {
    expectPolyprotoError(() => verifyForeignRoot(root('a.example').pem, 'a.example', new Date('2027-01-01T00:00:01Z')), 'CERT_NOT_VALID_AT_TIME');
    const a = root('a.example');
    expectPolyprotoError(() => verifyForeignRoot(actorCert(a, 'alice@a.example').pem, 'a.example', at), 'CERT_NAME_INVALID');
  });

  it('refuses a root whose GeneralizedTime says year 0000, which no database date holds (CERT_MALFORMED)', () => {
    const key = randomKey();
    const year0 = makeRootCert({
      issuerKey: key,
      issuer: homeServerName('a.example'),
      subject: homeServerName('a.example'),
      validity: seq(generalizedTimeOfYear('0000'), generalizedTime(rootEnd)),
    });
    expectPolyprotoError(() => verifyForeignRoot(year0.der, 'a.example', at), 'CERT_MALFORMED', 'validity.notBefore');
    // year 0001 is the first one held
    const year1 = makeRootCert({
      issuerKey: key,
      issuer: homeServerName('a.example'),
      subject: homeServerName('a.example'),
      validity: seq(generalizedTimeOfYear('0001'), generalizedTime(rootEnd)),
    });
    expect(verifyForeignRoot(year1.der, 'a.example', at).notBefore.toISOString()).toBe('0001-01-01T00:00:00.000Z');
  });

  it('refuses a root whose self-signature does not verify', () => {
    const der = Buffer.from(readIdCert(root('a.example').pem, { target: 'home-server' }).der);
    der[der.length - 5] ^= 1;
    expectPolyprotoError(() => verifyForeignRoot(der, 'a.example', at), 'CERT_SIGNATURE_INVALID');
  });
});

describe('verifyForeignActorCert', () => {
  const a = root('a.example');
  const rootA = verifyForeignRoot(a.pem, 'a.example', at);

  it('accepts a cert of the domain signed by its root, valid at the time of use', () => {
    const cert = readActor(actorCert(a, 'alice@a.example').pem);
    expect(() => verifyForeignActorCert(cert, rootA, at)).not.toThrow();
  });

  it('refuses a cert signed by a key the home server never published (same domain, another root)', () => {
    const forged = root('a.example');
    const cert = readActor(actorCert(forged, 'alice@a.example').pem);
    expectPolyprotoError(() => verifyForeignActorCert(cert, rootA, at), 'CERT_SIGNATURE_INVALID');
  });

  it('refuses an expired cert, and one not yet valid (both bounds inclusive)', () => {
    const cert = readActor(actorCert(a, 'alice@a.example', { notBefore: new Date('2026-02-01T00:00:00Z'), notAfter: new Date('2026-02-10T00:00:00Z') }).pem);
    expect(() => verifyForeignActorCert(cert, rootA, new Date('2026-02-10T00:00:00.999Z'))).not.toThrow();
    expectPolyprotoError(() => verifyForeignActorCert(cert, rootA, new Date('2026-02-10T00:00:01Z')), 'CERT_NOT_VALID_AT_TIME');
    expectPolyprotoError(() => verifyForeignActorCert(cert, rootA, new Date('2026-01-31T23:59:59Z')), 'CERT_NOT_VALID_AT_TIME');
  });

  it("refuses a cert of another domain than the root's", () => {
    const c = root('c.example');
    const cert = readActor(actorCert(c, 'alice@c.example').pem);
    expectPolyprotoError(() => verifyForeignActorCert(cert, rootA, at), 'CERT_NAME_INVALID');
  });

  it('refuses a cert that starts before its root (case 48)', () => {
    const cert = readActor(actorCert(a, 'alice@a.example', { notBefore: new Date('2025-12-31T00:00:00Z') }).pem);
    expectPolyprotoError(() => verifyForeignActorCert(cert, rootA, at), 'CERT_VALIDITY_INVALID');
  });

  it('checkValidAt works at whole seconds', () => {
    const v = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-01-01T00:00:10Z') };
    expect(() => checkValidAt(v, new Date('2026-01-01T00:00:10.500Z'))).not.toThrow();
    expectPolyprotoError(() => checkValidAt(v, new Date('2026-01-01T00:00:11Z')), 'CERT_NOT_VALID_AT_TIME');
  });
});

describe('cache windows and the status of a foreign cert (docs/protocol.md#cache-information)', () => {
  const a = root('a.example');
  const issued = actorCert(a, 'alice@a.example');
  const cert = readActor(issued.pem);
  const window = (o: { invalidatedAt?: number; signer?: Ed25519Signer; from?: number; to?: number } = {}) => {
    const signed = signCacheableIdCert({
      idCertPem: issued.pem,
      serial: issued.serial,
      cacheNotValidBefore: o.from ?? unix(at) - 10,
      cacheNotValidAfter: o.to ?? unix(at) + 3600,
      ...(o.invalidatedAt === undefined ? {} : { invalidatedAt: o.invalidatedAt }),
      signer: o.signer ?? a.signer,
    });
    return signed;
  };
  const entryOf = (signed: ReturnType<typeof window>) => readActorCertsDocument([{ ...signed, id_cert: signed.idCertPem, invalidated: signed.invalidatedAt !== undefined }]);

  it('a listed, valid cert with a verified window', () => {
    const signed = window();
    const status = foreignCertStatus(entryOf(signed), cert, a.signer.publicKey, at);
    expect(status).toEqual({ invalidated: false, cache: { notValidBefore: signed.cacheNotValidBefore, notValidAfter: signed.cacheNotValidAfter, signature: signed.cacheSignature } });
  });

  it('an invalidated cert, with the time the home server signed', () => {
    const status = foreignCertStatus(entryOf(window({ invalidatedAt: unix(at) - 5 })), cert, a.signer.publicKey, at);
    expect(status).toMatchObject({ invalidated: true, invalidatedAt: unix(at) - 5 });
  });

  it('refuses a window signed by another key, or one whose invalidation was stripped', () => {
    expectPolyprotoError(() => foreignCertStatus(entryOf(window({ signer: newSigner() })), cert, a.signer.publicKey, at), 'CACHE_SIGNATURE_INVALID');
    const signed = window({ invalidatedAt: unix(at) - 5 });
    const stripped: Record<string, unknown> = { ...signed };
    delete stripped.invalidatedAt;
    expectPolyprotoError(() => foreignCertStatus(readActorCertsDocument([stripped]), cert, a.signer.publicKey, at), 'CACHE_SIGNATURE_INVALID');
  });

  it('refuses a window that has ended or has not begun (beyond the skew)', () => {
    expectPolyprotoError(() => foreignCertStatus(entryOf(window({ from: unix(at) - 100, to: unix(at) - 1 })), cert, a.signer.publicKey, at), 'CACHE_WINDOW_INVALID');
    expectPolyprotoError(() => foreignCertStatus(entryOf(window({ from: unix(at) + 61, to: unix(at) + 100 })), cert, a.signer.publicKey, at), 'CACHE_WINDOW_INVALID');
    expect(() => foreignCertStatus(entryOf(window({ from: unix(at) + 60, to: unix(at) + 100 })), cert, a.signer.publicKey, at)).not.toThrow();
  });

  it('refuses a cert the home server does not list (another cert with the same serial does not count)', () => {
    const other = actorCert(a, 'alice@a.example', { serial: issued.serial, sessionId: 'laptop' });
    expectPolyprotoError(() => foreignCertStatus(readActorCertsDocument([{ id_cert: other.pem, invalidated: false }]), cert, a.signer.publicKey, at), 'FOREIGN_CERT_NOT_LISTED');
    expectPolyprotoError(() => foreignCertStatus([], cert, a.signer.publicKey, at), 'FOREIGN_CERT_NOT_LISTED');
  });

  it('2024 answers carry no window: only the flag is known', () => {
    expect(foreignCertStatus(readActorCertsDocument({ idcerts: [issued.pem], invalidated: [true] }), cert, a.signer.publicKey, at)).toEqual({ invalidated: true });
    expect(foreignCertStatus(readActorCertsDocument([{ id_cert: issued.pem, invalidated: false }]), cert, a.signer.publicKey, at)).toEqual({ invalidated: false });
  });

  it('verifyCacheInfo checks a root window with the current key', () => {
    const signed = signCacheableIdCert({ idCertPem: a.pem, serial: 77n, cacheNotValidBefore: unix(at), cacheNotValidAfter: unix(at) + 60, signer: a.signer });
    const cache: CacheInfo = readHomeServerCertDocument(signed).cache!;
    expect(() => verifyCacheInfo(a.pem, cache, a.signer.publicKey, at)).not.toThrow();
    expectPolyprotoError(() => verifyCacheInfo(a.pem, cache, newSigner().publicKey, at), 'CACHE_SIGNATURE_INVALID');
  });

  it('foreignCacheUntil takes the earliest limit and never goes back before the fetch', () => {
    const notAfter = new Date(at.getTime() + 86_400_000);
    expect(foreignCacheUntil({ fetchedAt: at, maxSeconds: 43200, notAfter })).toEqual(new Date((unix(at) + 43200) * 1000));
    expect(foreignCacheUntil({ fetchedAt: at, maxSeconds: 43200, cacheNotValidAfter: unix(at) + 600, notAfter })).toEqual(new Date((unix(at) + 600) * 1000));
    expect(foreignCacheUntil({ fetchedAt: at, maxSeconds: 43200, httpFreshSeconds: 30, cacheNotValidAfter: unix(at) + 600, notAfter })).toEqual(new Date((unix(at) + 30) * 1000));
    expect(foreignCacheUntil({ fetchedAt: at, maxSeconds: 43200, notAfter: new Date(at.getTime() + 5000) })).toEqual(new Date((unix(at) + 5) * 1000));
    expect(foreignCacheUntil({ fetchedAt: at, maxSeconds: 43200, httpFreshSeconds: 0, notAfter })).toEqual(new Date(unix(at) * 1000));
  });
});

describe('reading foreign documents (docs/protocol.md#federation-discovery)', () => {
  it('well-known: an absolute http(s) API URL, with a trailing slash added', () => {
    expect(readWellKnown({ api: 'https://a.example/.p2/core/' }).href).toBe('https://a.example/.p2/core/');
    expect(readWellKnown({ api: 'https://api.a.example/polyproto' }).href).toBe('https://api.a.example/polyproto/');
    for (const bad of [{}, { api: 42 }, { api: '/relative' }, { api: 'ftp://a.example/' }, { api: 'https://u:p@a.example/' }, { api: 'https://a.example/?x=1' }, 'https://a.example/', null, []]) {
      expectPolyprotoError(() => readWellKnown(bad), 'FEDERATION_DOCUMENT_INVALID');
    }
  });

  it('the server cert: a cacheable object, or a JSON string PEM (2024, polyproto-rs 0.9)', () => {
    expect(readHomeServerCertDocument('-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----')).toEqual({ pem: expect.stringContaining('BEGIN') });
    const object = { idCertPem: 'PEM', cacheNotValidBefore: 1, cacheNotValidAfter: '2', cacheSignature: 'AB'.repeat(64) };
    expect(readHomeServerCertDocument(object)).toEqual({ pem: 'PEM', cache: { notValidBefore: 1, notValidAfter: 2, signature: 'ab'.repeat(64) } });
    expect(readHomeServerCertDocument({ idCertPem: 'PEM' })).toEqual({ pem: 'PEM' });
    for (const bad of [42, null, [], {}, { idCertPem: 'PEM', cacheSignature: 'zz' }, { ...object, cacheNotValidBefore: -1 }, { ...object, cacheNotValidBefore: 3 }, { ...object, cacheNotValidAfter: 1.5 }]) {
      expectPolyprotoError(() => readHomeServerCertDocument(bad), 'FEDERATION_DOCUMENT_INVALID');
    }
  });

  it('cache times end with year 9999: what a Date and the database both hold', () => {
    const object = { idCertPem: 'PEM', cacheNotValidBefore: 1, cacheSignature: 'ab'.repeat(64) };
    const last = 253_402_300_799; // 9999-12-31T23:59:59Z
    expect(LATEST_UNIX_SECONDS).toBe(last);
    expect(new Date(LATEST_UNIX_SECONDS * 1000).toISOString()).toBe('9999-12-31T23:59:59.000Z');
    expect(readHomeServerCertDocument({ ...object, cacheNotValidAfter: last }).cache?.notValidAfter).toBe(last);
    expect(readActorCertsDocument([{ ...object, cacheNotValidAfter: last, invalidatedAt: last }])[0]?.cache?.invalidatedAt).toBe(last);
    // year 10000 ("+010000-…", refused by PostgreSQL), past what a Date holds, and the largest safe integer
    for (const late of [last + 1, String(last + 1), 8_640_000_000_001, Number.MAX_SAFE_INTEGER]) {
      expectPolyprotoError(() => readHomeServerCertDocument({ ...object, cacheNotValidAfter: late }), 'FEDERATION_DOCUMENT_INVALID', 'idCertPem.cacheNotValidAfter');
      expectPolyprotoError(
        () => readActorCertsDocument([{ ...object, cacheNotValidAfter: 2, invalidatedAt: late }]),
        'FEDERATION_DOCUMENT_INVALID',
        '[0].invalidatedAt',
      );
    }
  });

  it('actor certs in the 2025, superset, polyproto-rs 0.9 and 2024 shapes', () => {
    const cache = { cacheNotValidBefore: 1, cacheNotValidAfter: 2, cacheSignature: 'ab'.repeat(64) };
    expect(readActorCertsDocument([{ idCertPem: 'A', ...cache, invalidatedAt: 2 }])).toEqual([
      { pem: 'A', invalidated: true, cache: { notValidBefore: 1, notValidAfter: 2, signature: 'ab'.repeat(64), invalidatedAt: 2 } },
    ]);
    expect(readActorCertsDocument([{ id_cert: 'B', invalidated: false }])).toEqual([{ pem: 'B', invalidated: false }]);
    expect(readActorCertsDocument({ idcerts: ['C', 'D'], invalidated: [false, true] })).toEqual([
      { pem: 'C', invalidated: false },
      { pem: 'D', invalidated: true },
    ]);
    expect(readActorCertsDocument([])).toEqual([]);
    for (const bad of [null, 'text', {}, [1], [{}], [{ id_cert: 'B', invalidated: 'no' }], { idcerts: ['C'], invalidated: [] }, { idcerts: ['C'], invalidated: ['x'] }, Array(1001).fill({ id_cert: 'B' })]) {
      expectPolyprotoError(() => readActorCertsDocument(bad), 'FEDERATION_DOCUMENT_INVALID');
    }
  });
});

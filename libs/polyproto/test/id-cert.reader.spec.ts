import { checkActorCertAgainstRoot, readIdCert, readIdCertSerial } from '@p2/polyproto';
import { actorName, OID, pem, rdn } from './fixtures/csr-factory';
import { bits, ctx, generalizedTime, hex, ia5, int, nul, oid, rawInt, seq, tlv, utcTime, utf8 } from './fixtures/der';
import { DEFAULT_NOT_AFTER, DEFAULT_NOT_BEFORE, EXT, ext, extensions, homeServerName, makeCert, makeRootCert, type CertOptions } from './fixtures/cert-factory';
import { expectPolyprotoError } from './fixtures/expect-error';
import { randomKey } from './fixtures/keys';

const rootKey = randomKey();
const actor = (o: CertOptions = {}) => makeCert({ issuerKey: rootKey, ...o });
const readActor = (der: Buffer, at?: Date) => readIdCert(pem(der, 'CERTIFICATE'), { target: 'actor', at, issuerPublicKey: rootKey.publicKey });
const rejectsActor = (o: CertOptions, code: string, field: string) => expectPolyprotoError(() => readActor(actor(o).der), code, field);
const readRoot = (der: Buffer) => readIdCert(der, { target: 'home-server' });

describe('readIdCert — accepted certificates', () => {
  it('reads an actor cert in the library encoding and returns its fields', () => {
    const c = actor();
    const cert = readActor(c.der, new Date('2025-01-15T00:00:00Z'));
    expect(cert.federationId?.toString()).toBe('alice@example.com');
    expect(cert.sessionId).toBe('sess1');
    expect(cert.issuerDomain).toBe('example.com');
    expect(cert.serial).toBe(0x1234_5678_9abcn);
    expect(cert.notBefore).toEqual(DEFAULT_NOT_BEFORE);
    expect(cert.notAfter).toEqual(DEFAULT_NOT_AFTER);
    expect(Buffer.from(cert.tbsDer).equals(c.tbs)).toBe(true);
    expect(Buffer.from(cert.publicKey).equals(c.subjectKey.publicKey)).toBe(true);
    expect(Buffer.from(cert.issuerDer).equals(homeServerName())).toBe(true);
    expect(Buffer.from(cert.subjectDer).equals(actorName())).toBe(true);
    expect(cert.capabilities).toMatchObject({ cA: false, digitalSignature: true, contentCommitment: false, keyCertSign: false });
    expect(cert.signature).toHaveLength(64);
  });

  it('reads the standard extension encoding (BC 30 00, KU 03 02 07 80)', () => {
    const c = actor({ extensions: extensions(ext(OID.basicConstraints, hex('3000')), ext(OID.keyUsage, hex('03020780'))) });
    expect(readActor(c.der).capabilities.digitalSignature).toBe(true);
  });

  it('reads a foreign actor cert without CN (the library does not require it) and with the conventional RDN order', () => {
    const c = actor({ subject: actorName({ cn: null, order: 'conventional' }) });
    expect(readActor(c.der).federationId?.localName).toBe('alice');
  });

  it('skips the signature check for an actor cert when no issuer key is given', () => {
    const c = actor({ signature: () => Buffer.alloc(64, 1) });
    expect(readIdCert(c.der, { target: 'actor' }).sessionId).toBe('sess1');
  });

  it('reads the reference library default root (BC {TRUE, 8-byte INTEGER 1}, KU 03 02 05 04) with library semantics', () => {
    const r = makeRootCert({ extensions: extensions(ext(OID.basicConstraints, hex('30 0d 01 01 ff 02 08 0000000000000001')), ext(OID.keyUsage, hex('03020504'))) });
    const cert = readRoot(r.der);
    expect(cert.capabilities).toMatchObject({ cA: true, pathLen: 1, keyCertSign: true, digitalSignature: false });
  });

  it('reads a standard DER root (BC 30 06 01 01 FF 02 01 00, KU 03 02 02 04) and a root with a CN (tolerated by the library)', () => {
    const std = makeRootCert({ extensions: extensions(ext(OID.basicConstraints, hex('30060101ff020100')), ext(OID.keyUsage, hex('03020204'))) });
    expect(readRoot(std.der).capabilities).toMatchObject({ cA: true, pathLen: 0, keyCertSign: true });
    const withCn = seq(homeServerName().subarray(2), rdn(OID.cn, utf8('root')));
    const r = makeRootCert({ issuer: withCn, subject: withCn });
    expect(readRoot(r.der).issuerDomain).toBe('example.com');
  });

  it('case 47 (positive side): accepts t exactly at notBefore and exactly at notAfter (and within that second)', () => {
    const c = actor();
    expect(() => readActor(c.der, DEFAULT_NOT_BEFORE)).not.toThrow();
    expect(() => readActor(c.der, DEFAULT_NOT_AFTER)).not.toThrow();
    expect(() => readActor(c.der, new Date(DEFAULT_NOT_AFTER.getTime() + 999))).not.toThrow();
  });

  it('reads GeneralizedTime validity (years ≥ 2050)', () => {
    const c = actor({ validity: seq(generalizedTime(new Date('2050-01-01T00:00:00Z')), generalizedTime(new Date('2051-01-01T00:00:00Z'))) });
    expect(readActor(c.der).notAfter.toISOString()).toBe('2051-01-01T00:00:00.000Z');
  });

  it('checkActorCertAgainstRoot accepts an actor cert inside its root', () => {
    const root = makeRootCert({ issuerKey: rootKey });
    expect(() => checkActorCertAgainstRoot(readActor(actor().der), readRoot(root.der))).not.toThrow();
  });

  it('readIdCertSerial extracts the serial', () => {
    expect(readIdCertSerial(actor({ serial: int(77) }).der)).toBe(77n);
  });
});

describe('readIdCert — rejection cases 40–52', () => {
  it('case 40a: refuses a v1 certificate (no version field)', () => {
    rejectsActor({ version: null }, 'CERT_VERSION_UNSUPPORTED', 'version');
  });

  it('case 40b: refuses a v2 certificate', () => {
    rejectsActor({ version: ctx(0, int(1)) }, 'CERT_VERSION_UNSUPPORTED', 'version');
  });

  it('case 41: refuses a certificate without extensions', () => {
    rejectsActor({ extensions: null }, 'CERT_EXTENSIONS_INVALID', 'extensions');
  });

  it('case 42: refuses any other extension (subjectKeyIdentifier)', () => {
    rejectsActor({ extensions: extensions(EXT.bcActor, EXT.kuDigitalSignature, ext(OID.subjectKeyIdentifier, hex('04020102'), false)) }, 'CERT_EXTENSIONS_INVALID', 'extensions');
  });

  it('case 43a: refuses a non-critical basicConstraints (explicit FALSE)', () => {
    rejectsActor({ extensions: extensions(ext(OID.basicConstraints, hex('3003010100'), false), EXT.kuDigitalSignature) }, 'CERT_EXTENSIONS_INVALID', 'extensions.basicConstraints');
  });

  it('case 43b: refuses a non-critical keyUsage (critical absent)', () => {
    rejectsActor({ extensions: extensions(EXT.bcActor, ext(OID.keyUsage, hex('03020080'), null)) }, 'CERT_EXTENSIONS_INVALID', 'extensions.keyUsage');
  });

  it('case 44a: refuses an issuer containing UID', () => {
    rejectsActor({ issuer: seq(homeServerName().subarray(2), rdn(OID.uid, utf8('root@example.com'))) }, 'CERT_NAME_INVALID', 'issuer.uid');
  });

  it('case 44b: refuses an issuer containing uniqueIdentifier', () => {
    rejectsActor({ issuer: seq(homeServerName().subarray(2), rdn(OID.uniqueIdentifier, utf8('s'))) }, 'CERT_NAME_INVALID', 'issuer.uniqueIdentifier');
  });

  it.each([
    ['a different value', homeServerName('example.org')],
    ['a different count', homeServerName('com')],
    ['a different order', seq(rdn(OID.dc, ia5('example')), rdn(OID.dc, ia5('com')))],
  ])('case 45: refuses issuer DCs that differ from the subject DCs (%s)', (_label, issuer) => {
    rejectsActor({ issuer }, 'CERT_NAME_INVALID', 'issuer.domainComponent');
  });

  it.each([
    ['0 content octets', tlv(0x02)],
    ['21 content octets', rawInt(`01${'00'.repeat(20)}`)],
    ['a negative value', rawInt('ff')],
    ['zero', rawInt('00')],
    ['a non-minimal encoding', rawInt('0001')],
  ])('case 46: refuses a serial with %s', (_label, serial) => {
    rejectsActor({ serial }, 'CERT_SERIAL_INVALID', 'serialNumber');
  });

  it('case 47a: refuses t one second before notBefore', () => {
    expectPolyprotoError(() => readActor(actor().der, new Date(DEFAULT_NOT_BEFORE.getTime() - 1000)), 'CERT_NOT_VALID_AT_TIME', 'validity');
  });

  it('case 47b: refuses t one second after notAfter', () => {
    expectPolyprotoError(() => readActor(actor().der, new Date(DEFAULT_NOT_AFTER.getTime() + 1000)), 'CERT_NOT_VALID_AT_TIME', 'validity');
  });

  it("case 48a: refuses an actor cert whose notAfter is after the root's notAfter", () => {
    const root = readRoot(makeRootCert({ issuerKey: rootKey, notAfter: new Date('2025-01-31T00:00:00Z') }).der);
    expectPolyprotoError(() => checkActorCertAgainstRoot(readActor(actor().der), root), 'CERT_VALIDITY_INVALID', 'validity.notAfter');
  });

  it("case 48b: refuses an actor cert whose notBefore is before the root's notBefore", () => {
    const root = readRoot(makeRootCert({ issuerKey: rootKey, notBefore: new Date('2025-01-02T00:00:00Z') }).der);
    expectPolyprotoError(() => checkActorCertAgainstRoot(readActor(actor().der), root), 'CERT_VALIDITY_INVALID', 'validity.notBefore');
  });

  it('case 49a: refuses an actor cert whose signature does not verify with the home-server key', () => {
    const other = randomKey();
    expectPolyprotoError(() => readIdCert(actor().der, { target: 'actor', issuerPublicKey: other.publicKey }), 'CERT_SIGNATURE_INVALID', 'signature');
  });

  it('case 49b: refuses it in checkActorCertAgainstRoot against a root with another key', () => {
    const otherRoot = readRoot(makeRootCert().der);
    expectPolyprotoError(() => checkActorCertAgainstRoot(readIdCert(actor().der, { target: 'actor' }), otherRoot), 'CERT_SIGNATURE_INVALID', 'signature');
  });

  it('case 49c: refuses a TBS modified after signing', () => {
    const c = actor();
    const der = Buffer.from(c.der);
    der[der.indexOf(Buffer.from('sess1'))] ^= 0x02;
    expectPolyprotoError(() => readActor(der), 'CERT_SIGNATURE_INVALID', 'signature');
  });

  it('case 50a: refuses an issuerUniqueID', () => {
    rejectsActor({ afterSpki: [tlv(0x81, hex('00aa'))] }, 'CERT_MALFORMED', 'issuerUniqueID');
  });

  it('case 50b: refuses a subjectUniqueID', () => {
    rejectsActor({ afterSpki: [tlv(0x82, hex('00aa'))] }, 'CERT_MALFORMED', 'subjectUniqueID');
  });

  it('case 51a: refuses a home-server cert with cA FALSE', () => {
    const r = makeRootCert({ extensions: extensions(EXT.bcActor, EXT.kuRoot) });
    expectPolyprotoError(() => readRoot(r.der), 'CERT_CAPABILITIES_INVALID', 'extensions.basicConstraints');
  });

  it('case 51b: refuses a home-server cert without keyCertSign', () => {
    const r = makeRootCert({ extensions: extensions(EXT.bcRoot, EXT.kuDigitalSignature) });
    expectPolyprotoError(() => readRoot(r.der), 'CERT_CAPABILITIES_INVALID', 'extensions.keyUsage');
  });

  it('case 51c: refuses a home-server cert with a UID', () => {
    const name = seq(homeServerName().subarray(2), rdn(OID.uid, utf8('root@example.com')));
    const r = makeRootCert({ subject: name });
    expectPolyprotoError(() => readRoot(r.der), 'CERT_NAME_INVALID', 'subject.uid');
  });

  it('case 52: refuses a home-server cert whose self-signature fails', () => {
    const r = makeRootCert({ signature: (tbs) => randomKey().sign(tbs) });
    expectPolyprotoError(() => readRoot(r.der), 'CERT_SIGNATURE_INVALID', 'signature');
  });
});

describe('readIdCert — further refusals', () => {
  it('refuses an actor cert with cA TRUE', () => {
    rejectsActor({ extensions: extensions(EXT.bcRoot, EXT.kuDigitalSignature) }, 'CERT_CAPABILITIES_INVALID', 'extensions.basicConstraints');
  });

  it('refuses an actor cert whose CN differs from the UID local part', () => {
    rejectsActor({ subject: actorName({ cn: 'bob' }) }, 'CERT_NAME_INVALID', 'subject.commonName');
  });

  it('refuses a duplicate extension', () => {
    rejectsActor({ extensions: extensions(EXT.bcActor, EXT.kuDigitalSignature, EXT.kuDigitalSignature) }, 'CERT_EXTENSIONS_INVALID', 'extensions.keyUsage');
  });

  it('refuses non-Ed25519 algorithms and parameters', () => {
    rejectsActor({ sigAlg: seq(oid(OID.ecdsaWithSha256)) }, 'CERT_ALGORITHM_UNSUPPORTED', 'signatureAlgorithm');
    rejectsActor({ tbsSigAlg: seq(oid(OID.ed25519), nul()) }, 'CERT_ALGORITHM_UNSUPPORTED', 'tbsCertificate.signature');
    const k = randomKey();
    rejectsActor({ subjectKey: k, spki: seq(seq(oid(OID.ed25519), nul()), bits(k.publicKey)) }, 'CERT_ALGORITHM_UNSUPPORTED', 'subjectPublicKeyInfo.algorithm');
  });

  it('refuses a small-order subject key', () => {
    rejectsActor({ spki: seq(seq(oid(OID.ed25519)), bits(Buffer.alloc(32))) }, 'CERT_PUBLIC_KEY_WEAK', 'subjectPublicKeyInfo.subjectPublicKey');
  });

  it('refuses notBefore after notAfter', () => {
    rejectsActor({ notBefore: DEFAULT_NOT_AFTER, notAfter: DEFAULT_NOT_BEFORE }, 'CERT_VALIDITY_INVALID', 'validity');
  });

  it.each([
    ['UTCTime without seconds', tlv(0x17, Buffer.from('2501010000Z'))],
    ['UTCTime with an offset', tlv(0x17, Buffer.from('250101000000+0100'.slice(0, 13)))],
    ['30 February', tlv(0x17, Buffer.from('250230000000Z'))],
    ['hour 24', tlv(0x17, Buffer.from('250101240000Z'))],
    // no timestamptz holds year 0 (docs/protocol.md#stored-times)
    ['GeneralizedTime year 0000', tlv(0x18, Buffer.from('00000101000000Z'))],
  ])('refuses a malformed time (%s)', (_label, t) => {
    rejectsActor({ validity: seq(t, utcTime(DEFAULT_NOT_AFTER)) }, 'CERT_MALFORMED', 'validity.notBefore');
  });

  it('refuses a CERTIFICATE REQUEST PEM', () => {
    expectPolyprotoError(() => readIdCert(pem(actor().der, 'CERTIFICATE REQUEST'), { target: 'actor' }), 'CERT_MALFORMED', 'pem');
  });

  it('refuses an invalid target option', () => {
    expectPolyprotoError(() => readIdCert(actor().der, { target: 'nope' as never }), 'CERT_OPTIONS_INVALID', 'target');
  });
});

import 'reflect-metadata';
import { createPublicKey, webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import {
  actorCertValidity,
  buildHomeServerSubject,
  buildIdCsr,
  createHomeServerRootCert,
  ed25519PrivateKeyFromSeed,
  ed25519SignerFromPrivateKey,
  issueActorIdCert,
  isWithinValidity,
  readIdCert,
  readIdCsr,
  spkiDerFromRawEd25519,
  type Ed25519Signer,
  type IdCsr,
} from '@p2/polyproto';
import { actorName, makeCsr, name, pem, rdn, OID } from './fixtures/csr-factory';
import { hex, ia5, utf8 } from './fixtures/der';
import { expectPolyprotoError } from './fixtures/expect-error';
import { ACTOR_SEED, keyFromSeed, randomKey, ROOT_SEED } from './fixtures/keys';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const signerFromSeed = (seed: string): Ed25519Signer => ed25519SignerFromPrivateKey(ed25519PrivateKeyFromSeed(Buffer.from(seed, 'hex')));
const rootSigner = signerFromSeed(ROOT_SEED);
const actorSigner = signerFromSeed(ACTOR_SEED);

/** Recorded once from this implementation and checked field by field below with independent parsers. */
const KAT_ROOT_HEX =
  '308201333081e6a003020102020101300506032b6570303131143012060a0992268993f22c64011916046368617431193017060a0992268993f22c6401191609706f6c7970686f6e79301e170d3235303130313030303030305a170d3237303130313030303030305a303131143012060a0992268993f22c64011916046368617431193017060a0992268993f22c6401191609706f6c7970686f6e79302a300506032b657003210003a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8a3233021300f0603551d130101ff040530030101ff300e0603551d0f0101ff040403020084300506032b657003410063e72c782bc1471d46412aafd07ca2e373491d724073bc8f43c91a3a04f5e528f5b96967e34fe3299f3f43fa92fa0a75f0024ab3c15c38d7a440194bae9d8403';
const KAT_CSR_HEX =
  '3082011c3081cf02010030818031173015060a0992268993f22c64012c0c07636c69656e743131243022060a0992268993f22c6401010c14666c6f726940706f6c7970686f6e792e6368617431143012060a0992268993f22c64011916046368617431193017060a0992268993f22c6401191609706f6c7970686f6e79310e300c06035504030c05666c6f7269302a300506032b657003210029acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7a01b300b0603551d0f310403020080300c0603551d1331053003010100300506032b65700341006f9aa19b71d037ed89dbb73a0af255f00eeb9b6396fd298dd006834f33c12b499e7a061e26a48a25ac4cfa28f2cebdd23951e35feb013e89a226cec901917c00';
const KAT_ACTOR_HEX =
  '308201893082013ba0030201020206123456789abc300506032b6570303131143012060a0992268993f22c64011916046368617431193017060a0992268993f22c6401191609706f6c7970686f6e79301e170d3235303630313132303030305a170d3235303730313132303030305a30818031173015060a0992268993f22c64012c0c07636c69656e743131243022060a0992268993f22c6401010c14666c6f726940706f6c7970686f6e792e6368617431143012060a0992268993f22c64011916046368617431193017060a0992268993f22c6401191609706f6c7970686f6e79310e300c06035504030c05666c6f7269302a300506032b657003210029acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7a3233021300f0603551d130101ff04053003010100300e0603551d0f0101ff040403020080300506032b6570034100df8bcaf0eb684a94bf3ac8509fd0722ba35375230c9d3a1d1952f5131295f2a6ce6a9ed328c4d0fa347d17e197b2e5f291ceb63de95ba51b43e5e25e9d1df509';

function katRoot() {
  return createHomeServerRootCert({
    domain: 'polyphony.chat',
    serial: 1n,
    notBefore: new Date('2025-01-01T00:00:00Z'),
    notAfter: new Date('2027-01-01T00:00:00Z'),
    signer: rootSigner,
  });
}

function katActor() {
  const root = katRoot();
  const csrDer = buildIdCsr({ signer: actorSigner, federationId: 'flori@polyphony.chat', sessionId: 'client1' }).der;
  const csr = readIdCsr(csrDer, { domain: 'polyphony.chat', actorLocalName: 'flori' });
  const cert = issueActorIdCert({
    csr,
    issuerSubjectDer: root.subjectDer,
    serial: 0x1234_5678_9abcn,
    notBefore: new Date('2025-06-01T12:00:00Z'),
    notAfter: new Date('2025-07-01T12:00:00Z'),
    signer: rootSigner,
  });
  return { root, csrDer, csr, cert };
}

function extensionsOf(der: Uint8Array) {
  const cert = AsnConvert.parse(der, Certificate);
  return (cert.tbsCertificate.extensions ?? []).map((e) => ({ id: e.extnID, critical: e.critical, value: Buffer.from(e.extnValue.buffer).toString('hex') }));
}

describe('known answers (fixed seeds, dates, serials)', () => {
  it('root certificate bytes match the recorded constant', () => {
    expect(Buffer.from(katRoot().der).toString('hex')).toBe(KAT_ROOT_HEX);
  });

  it('CSR built by buildIdCsr matches the recorded constant, with the library capability attribute bytes', () => {
    const { csrDer } = katActor();
    const h = Buffer.from(csrDer).toString('hex');
    expect(h).toBe(KAT_CSR_HEX);
    expect(h).toContain('300b0603551d0f310403020080');
    expect(h).toContain('300c0603551d1331053003010100');
  });

  it('actor certificate bytes match the recorded constant', () => {
    expect(Buffer.from(katActor().cert.der).toString('hex')).toBe(KAT_ACTOR_HEX);
  });

  it('actor certificate, checked independently with @peculiar/asn1-x509: v3, serial, algorithms, names, extensions in order', () => {
    const { root, csr } = katActor();
    const der = hex(KAT_ACTOR_HEX);
    const c = AsnConvert.parse(der, Certificate);
    const tbs = c.tbsCertificate;
    expect(tbs.version).toBe(2);
    expect(Buffer.from(tbs.serialNumber).toString('hex')).toBe('123456789abc');
    expect(tbs.signature.algorithm).toBe('1.3.101.112');
    expect(tbs.signature.parameters).toBeUndefined();
    expect(c.signatureAlgorithm.algorithm).toBe('1.3.101.112');
    expect(Buffer.from(AsnConvert.serialize(tbs.issuer)).equals(Buffer.from(root.subjectDer))).toBe(true);
    expect(Buffer.from(AsnConvert.serialize(tbs.subject)).equals(Buffer.from(csr.subjectDer))).toBe(true);
    expect(tbs.validity.notBefore.utcTime?.toISOString()).toBe('2025-06-01T12:00:00.000Z');
    expect(tbs.validity.notAfter.utcTime?.toISOString()).toBe('2025-07-01T12:00:00.000Z');
    expect(tbs.subjectPublicKeyInfo.algorithm.algorithm).toBe('1.3.101.112');
    expect(tbs.subjectPublicKeyInfo.algorithm.parameters).toBeUndefined();
    expect(tbs.issuerUniqueID).toBeUndefined();
    expect(tbs.subjectUniqueID).toBeUndefined();
    expect(extensionsOf(der)).toEqual([
      { id: '2.5.29.19', critical: true, value: '3003010100' },
      { id: '2.5.29.15', critical: true, value: '03020080' },
    ]);
  });

  it('actor certificate, checked with Node X509Certificate: parses, verifies with the root key, issued by the root', () => {
    const { root } = katActor();
    const cert = new NodeX509(hex(KAT_ACTOR_HEX));
    const rootCert = new NodeX509(Buffer.from(root.der));
    expect(cert.ca).toBe(false);
    expect(cert.serialNumber.toLowerCase()).toBe('123456789abc');
    expect(cert.validFrom).toBe('Jun  1 12:00:00 2025 GMT');
    expect(cert.validTo).toBe('Jul  1 12:00:00 2025 GMT');
    expect(cert.publicKey.asymmetricKeyType).toBe('ed25519');
    expect(cert.verify(createPublicKey({ key: Buffer.from(spkiDerFromRawEd25519(rootSigner.publicKey)), format: 'der', type: 'spki' }))).toBe(true);
    expect(cert.checkIssued(rootCert)).toBe(true);
    expect(rootCert.ca).toBe(true);
    expect(rootCert.verify(rootCert.publicKey)).toBe(true);
  });

  it('actor certificate, checked with @peculiar/x509: extensions decode and the signature verifies', async () => {
    const { root } = katActor();
    const cert = new x509.X509Certificate(hex(KAT_ACTOR_HEX));
    const bc = cert.getExtension(x509.BasicConstraintsExtension);
    const ku = cert.getExtension(x509.KeyUsagesExtension);
    expect(bc?.ca).toBe(false);
    expect(bc?.critical).toBe(true);
    expect(ku?.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(ku?.critical).toBe(true);
    const rootCert = new x509.X509Certificate(Buffer.from(root.der));
    expect(await cert.verify({ publicKey: rootCert.publicKey, signatureOnly: true })).toBe(true);
    const rbc = rootCert.getExtension(x509.BasicConstraintsExtension);
    const rku = rootCert.getExtension(x509.KeyUsagesExtension);
    expect(rbc?.ca).toBe(true);
    expect(rbc?.pathLength).toBeUndefined();
    expect(rku?.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyCertSign);
    expect(await rootCert.verify({ signatureOnly: true })).toBe(true);
  });

  it('root certificate, checked independently: issuer = subject = DC=chat, DC=polyphony (IA5String, TLD first), root extensions', () => {
    const der = hex(KAT_ROOT_HEX);
    const c = AsnConvert.parse(der, Certificate);
    expect(Buffer.from(AsnConvert.serialize(c.tbsCertificate.subject)).toString('hex')).toBe(
      '303131143012060a0992268993f22c64011916046368617431193017060a0992268993f22c6401191609706f6c7970686f6e79',
    );
    expect(Buffer.from(AsnConvert.serialize(c.tbsCertificate.issuer)).equals(Buffer.from(AsnConvert.serialize(c.tbsCertificate.subject)))).toBe(true);
    expect(extensionsOf(der)).toEqual([
      { id: '2.5.29.19', critical: true, value: '30030101ff' },
      { id: '2.5.29.15', critical: true, value: '03020084' },
    ]);
  });
});

describe('issueActorIdCert', () => {
  const root = katRoot();
  const domainCsr = (usage: 'digitalSignature' | 'contentCommitment' = 'digitalSignature'): IdCsr =>
    readIdCsr(buildIdCsr({ signer: actorSigner, federationId: 'flori@polyphony.chat', sessionId: 's', usage }).der, { domain: 'polyphony.chat' });
  const issue = (over: Partial<Parameters<typeof issueActorIdCert>[0]> = {}) =>
    issueActorIdCert({
      csr: domainCsr(),
      issuerSubjectDer: root.subjectDer,
      serial: 42n,
      notBefore: new Date('2025-06-01T00:00:00Z'),
      notAfter: new Date('2025-07-01T00:00:00Z'),
      signer: rootSigner,
      ...over,
    });

  it('emits contentCommitment as 03 02 01 40 and Node/@peculiar read it as nonRepudiation', () => {
    const cert = issue({ csr: domainCsr('contentCommitment') });
    expect(extensionsOf(cert.der)[1]).toEqual({ id: '2.5.29.15', critical: true, value: '03020140' });
    const p = new x509.X509Certificate(Buffer.from(cert.der));
    expect(p.getExtension(x509.KeyUsagesExtension)?.usages).toBe(x509.KeyUsageFlags.nonRepudiation);
  });

  it('copies the CSR subject byte for byte, also for the conventional RDN order and IA5String session IDs', () => {
    const key = randomKey();
    const subject = actorName({ local: 'flori', domain: 'polyphony.chat', order: 'conventional', extra: [rdn('2.5.4.10', utf8('Org'))] });
    const csr = readIdCsr(pem(makeCsr({ key, subject })), { domain: 'polyphony.chat' });
    const cert = issue({ csr });
    const parsed = AsnConvert.parse(cert.der, Certificate);
    expect(Buffer.from(AsnConvert.serialize(parsed.tbsCertificate.subject)).equals(subject)).toBe(true);
  });

  it.each([
    [1n, '020101'],
    [0x7fn, '02017f'],
    [0x80n, '02020080'],
    [0xffn, '020200ff'],
    [0x100n, '02020100'],
    [2n ** 53n - 1n, '02071fffffffffffff'],
    [2n ** 159n - 1n, `0214${'7f'}${'ff'.repeat(19)}`],
  ])('encodes serial %s as the minimal positive DER INTEGER %s', (serial, expected) => {
    const cert = issue({ serial });
    expect(Buffer.from(cert.der).toString('hex')).toContain(`a003020102${expected}300506032b6570`);
    expect(cert.serial).toBe(serial);
    expect(readIdCert(cert.der, { target: 'actor', issuerPublicKey: rootSigner.publicKey }).serial).toBe(serial);
  });

  it.each([0n, -1n, 2n ** 159n])('refuses serial %s', (serial) => {
    expectPolyprotoError(() => issue({ serial }), 'SERIAL_INVALID', 'serial');
  });

  it('writes UTCTime up to 2049 and GeneralizedTime from 2050 (RFC 5280), which Node parses', () => {
    const cert = issue({ notBefore: new Date('2049-12-31T23:59:59Z'), notAfter: new Date('2050-01-01T00:00:00Z') });
    const h = Buffer.from(cert.der).toString('hex');
    expect(h).toContain(`170d${Buffer.from('491231235959Z').toString('hex')}180f${Buffer.from('20500101000000Z').toString('hex')}`);
    const n = new NodeX509(Buffer.from(cert.der));
    expect(n.validFrom).toBe('Dec 31 23:59:59 2049 GMT');
    expect(n.validTo).toBe('Jan  1 00:00:00 2050 GMT');
  });

  it('floors validity to whole seconds and reports what it wrote', () => {
    const cert = issue({ notBefore: new Date('2025-06-01T00:00:00.999Z'), notAfter: new Date('2025-07-01T00:00:00.500Z') });
    expect(cert.notBefore.toISOString()).toBe('2025-06-01T00:00:00.000Z');
    expect(cert.notAfter.toISOString()).toBe('2025-07-01T00:00:00.000Z');
  });

  it('returns PEM with 64-character lines that decodes to the DER', () => {
    const cert = issue();
    const lines = cert.pem.trimEnd().split('\n');
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----');
    expect(lines[lines.length - 1]).toBe('-----END CERTIFICATE-----');
    expect(lines.slice(1, -2).every((l) => l.length === 64)).toBe(true);
    expect(cert.pem.endsWith('\n')).toBe(true);
    expect(Buffer.from(lines.slice(1, -1).join(''), 'base64').equals(Buffer.from(cert.der))).toBe(true);
  });

  it('refuses notAfter before notBefore and invalid dates', () => {
    expectPolyprotoError(() => issue({ notBefore: new Date('2025-07-02T00:00:00Z') }), 'VALIDITY_INVALID', 'notAfter');
    expectPolyprotoError(() => issue({ notBefore: new Date(NaN) }), 'VALIDITY_INVALID', 'notBefore');
  });

  it('refuses an issuer whose DCs do not spell the actor domain', () => {
    expectPolyprotoError(() => issue({ issuerSubjectDer: buildHomeServerSubject('example.com') }), 'ISSUE_ARGUMENT_INVALID', 'issuerSubjectDer');
  });

  it('refuses an issuer name with a UID, and bytes that are not a Name', () => {
    const bad = name(rdn(OID.dc, ia5('chat')), rdn(OID.dc, ia5('polyphony')), rdn(OID.uid, utf8('x@polyphony.chat')));
    expectPolyprotoError(() => issue({ issuerSubjectDer: bad }), 'ISSUE_ARGUMENT_INVALID', 'issuerSubjectDer.uid');
    expectPolyprotoError(() => issue({ issuerSubjectDer: hex('0500') }), 'ISSUE_ARGUMENT_INVALID', 'issuerSubjectDer');
  });

  it('refuses capabilities outside the server policy even when a caller forges the IdCsr', () => {
    const csr = domainCsr();
    const forged = { ...csr, capabilities: { ...csr.capabilities, keyCertSign: true } };
    expectPolyprotoError(() => issue({ csr: forged }), 'ISSUE_ARGUMENT_INVALID', 'csr.capabilities');
  });

  it('refuses a signer that returns something other than 64 bytes', () => {
    expectPolyprotoError(() => issue({ signer: { publicKey: rootSigner.publicKey, sign: () => Buffer.alloc(10) } }), 'SIGNER_INVALID', 'signer');
  });

  it('refuses a missing CSR', () => {
    expectPolyprotoError(() => issue({ csr: undefined as never }), 'ISSUE_ARGUMENT_INVALID', 'csr');
  });
});

describe('isWithinValidity (RFC 5280 §4.1.2.5: notBefore through notAfter, inclusive)', () => {
  const notBefore = new Date('2026-03-01T00:00:00Z');
  const notAfter = new Date('2026-03-31T00:00:00Z');
  const at = (t: Date, ms: number) => new Date(t.getTime() + ms);

  it('is valid at both ends and between, not a millisecond outside', () => {
    expect([notBefore, at(notBefore, 86_400_000), notAfter].map((t) => isWithinValidity({ notBefore, notAfter }, t))).toEqual([true, true, true]);
    expect([at(notBefore, -1), at(notAfter, 1), at(notAfter, 1000)].map((t) => isWithinValidity({ notBefore, notAfter }, t))).toEqual([false, false, false]);
  });

  it('without notBefore checks the end only', () => {
    expect(isWithinValidity({ notAfter }, new Date(0))).toBe(true);
    expect(isWithinValidity({ notAfter }, at(notAfter, 1))).toBe(false);
  });
});

describe('actorCertValidity', () => {
  const rootNotBefore = new Date('2025-01-01T00:00:00Z');
  const rootNotAfter = new Date('2026-01-01T00:00:00Z');

  it('is now − 60 s … now + lifetime, floored to seconds', () => {
    const v = actorCertValidity({ now: new Date('2025-06-01T12:00:00.750Z'), lifetimeDays: 30, rootNotBefore, rootNotAfter });
    expect(v.notBefore.toISOString()).toBe('2025-06-01T11:59:00.000Z');
    expect(v.notAfter.toISOString()).toBe('2025-07-01T12:00:00.000Z');
  });

  it('never starts before the root', () => {
    const v = actorCertValidity({ now: new Date('2025-01-01T00:00:30Z'), lifetimeDays: 30, rootNotBefore, rootNotAfter });
    expect(v.notBefore.toISOString()).toBe('2025-01-01T00:00:00.000Z');
  });

  it('never ends after the root', () => {
    const v = actorCertValidity({ now: new Date('2025-12-20T00:00:00Z'), lifetimeDays: 30, rootNotBefore, rootNotAfter });
    expect(v.notAfter.toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it("a session's next cert starts a second after the one it follows, but never after now", () => {
    const now = new Date('2025-06-01T12:00:00.750Z');
    const next = (follows: string) => actorCertValidity({ now, lifetimeDays: 30, rootNotBefore, rootNotAfter, follows: new Date(follows) }).notBefore.toISOString();
    // issued in the same second as the one it follows: one second later than it
    expect(next('2025-06-01T11:59:00Z')).toBe('2025-06-01T11:59:01.000Z');
    // one that started long ago does not hold it back from now − 60 s
    expect(next('2025-05-01T00:00:00Z')).toBe('2025-06-01T11:59:00.000Z');
    // never in the future: at most now, floored
    expect(next('2025-06-01T12:00:00Z')).toBe('2025-06-01T12:00:00.000Z');
    expectPolyprotoError(() => actorCertValidity({ now, lifetimeDays: 30, rootNotBefore, rootNotAfter, follows: new Date(NaN) }), 'VALIDITY_INVALID', 'follows');
  });

  it('refuses when the root is not valid (expired), and bad arguments', () => {
    expectPolyprotoError(() => actorCertValidity({ now: new Date('2026-02-01T00:00:00Z'), lifetimeDays: 30, rootNotBefore, rootNotAfter }), 'VALIDITY_INVALID', 'validity');
    expectPolyprotoError(() => actorCertValidity({ now: new Date('2025-06-01T00:00:00Z'), lifetimeDays: 0, rootNotBefore, rootNotAfter }), 'VALIDITY_INVALID', 'lifetimeDays');
    expectPolyprotoError(() => actorCertValidity({ now: new Date(NaN), lifetimeDays: 30, rootNotBefore, rootNotAfter }), 'VALIDITY_INVALID', 'now');
  });
});

describe('createHomeServerRootCert', () => {
  it('with pathLenZero writes basicConstraints 30 06 01 01 FF 02 01 00, which Node and @peculiar decode as pathLen 0', () => {
    const root = createHomeServerRootCert({
      domain: 'polyphony.chat',
      serial: 7n,
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2027-01-01T00:00:00Z'),
      signer: rootSigner,
      pathLenZero: true,
    });
    expect(extensionsOf(root.der)).toEqual([
      { id: '2.5.29.19', critical: true, value: '30060101ff020100' },
      { id: '2.5.29.15', critical: true, value: '03020084' },
    ]);
    expect(new x509.X509Certificate(Buffer.from(root.der)).getExtension(x509.BasicConstraintsExtension)?.pathLength).toBe(0);
    expect(new NodeX509(Buffer.from(root.der)).ca).toBe(true);
    expect(readIdCert(root.der, { target: 'home-server' }).capabilities.pathLen).toBe(0);
  });

  it('lowercases the domain and refuses invalid domains and weak signers', () => {
    expect(Buffer.from(buildHomeServerSubject('Polyphony.CHAT')).equals(Buffer.from(buildHomeServerSubject('polyphony.chat')))).toBe(true);
    expectPolyprotoError(() => buildHomeServerSubject('bad_domain.com'), 'DOMAIN_INVALID', 'domain');
    const weak = { publicKey: Buffer.alloc(32), sign: () => Buffer.alloc(64) };
    expectPolyprotoError(
      () => createHomeServerRootCert({ domain: 'a.b', serial: 1n, notBefore: new Date(0), notAfter: new Date(1000), signer: weak }),
      'ISSUE_ARGUMENT_INVALID',
      'signer',
    );
  });

  it('is read back as a home-server certificate with a valid self-signature', () => {
    const cert = readIdCert(katRoot().pem, { target: 'home-server', at: new Date('2026-01-01T00:00:00Z') });
    expect(cert.issuerDomain).toBe('polyphony.chat');
    expect(cert.capabilities.cA).toBe(true);
    expect(cert.capabilities.keyCertSign).toBe(true);
    expect(cert.federationId).toBeUndefined();
    expect(Buffer.from(cert.publicKey).equals(Buffer.from(rootSigner.publicKey))).toBe(true);
  });

  it('the fixture keys used by the KAT are the library’s seed keys', () => {
    expect(Buffer.from(rootSigner.publicKey).equals(keyFromSeed(ROOT_SEED).publicKey)).toBe(true);
  });
});

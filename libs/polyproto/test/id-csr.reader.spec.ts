import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { readIdCsr, type CsrPolicy } from '@p2/polyproto';
import { bits, bmp, bool, hex, ia5, int, nul, oid, printable, rawInt, seq, utf8 } from './fixtures/der';
import {
  actorName,
  attr,
  bcAttr,
  ED25519_ALG,
  ed25519Spki,
  ext,
  extReqAttr,
  KU,
  kuAttr,
  makeCsr,
  OID,
  pem,
  rdn,
} from './fixtures/csr-factory';
import { expectPolyprotoError } from './fixtures/expect-error';
import { randomKey } from './fixtures/keys';

const policy: CsrPolicy = { domain: 'example.com', actorLocalName: 'alice' };
const read = (der: Buffer, p: CsrPolicy = policy) => readIdCsr(pem(der), p);
const rejects = (der: Buffer, code: string, field: string, p: CsrPolicy = policy) => expectPolyprotoError(() => read(der, p), code, field);
const nameCsr = (o: Parameters<typeof actorName>[0]) => makeCsr({ subject: actorName(o) });
const capsCsr = (...attributes: Buffer[]) => makeCsr({ attributes });
const kuBits = (byte0: number, byte1?: number) => bits(byte1 === undefined ? Buffer.of(byte0) : Buffer.of(byte0, byte1));

describe('readIdCsr — accepted variants', () => {
  it('reads a reference-library CSR (RDN order uniqueIdentifier, UID, DC=tld, DC, CN; raw attributes)', () => {
    const key = randomKey();
    const subject = actorName({ order: 'library' });
    const der = makeCsr({ key, subject });
    const csr = read(der);
    expect(csr.federationId.toString()).toBe('alice@example.com');
    expect(csr.federationId.localName).toBe('alice');
    expect(csr.federationId.domain).toBe('example.com');
    expect(csr.sessionId).toBe('sess1');
    expect(Buffer.from(csr.publicKey).equals(key.publicKey)).toBe(true);
    expect(Buffer.from(csr.subjectDer).equals(subject)).toBe(true);
    expect(Buffer.from(csr.der).equals(der)).toBe(true);
    expect(csr.capabilities).toEqual({
      cA: false,
      digitalSignature: true,
      contentCommitment: false,
      keyEncipherment: false,
      dataEncipherment: false,
      keyAgreement: false,
      keyCertSign: false,
      cRLSign: false,
      encipherOnly: false,
      decipherOnly: false,
    });
    // independent parser agrees on the subject bytes
    const parsed = AsnConvert.parse(der, CertificationRequest);
    expect(Buffer.from(AsnConvert.serialize(parsed.certificationRequestInfo.subject)).equals(Buffer.from(csr.subjectDer))).toBe(true);
  });

  it('reads the conventional RDN order (DC=tld, DC, CN, UID, uniqueIdentifier)', () => {
    const subject = actorName({ order: 'conventional' });
    const csr = read(makeCsr({ subject }));
    expect(csr.federationId.toString()).toBe('alice@example.com');
    expect(Buffer.from(csr.subjectDer).equals(subject)).toBe(true);
  });

  it('accepts a UTF8String session ID', () => {
    expect(read(nameCsr({ sid: utf8('utf8-session') })).sessionId).toBe('utf8-session');
  });

  it('accepts an IA5String session ID', () => {
    expect(read(nameCsr({ sid: ia5('ia5-session') })).sessionId).toBe('ia5-session');
  });

  it('accepts a PrintableString session ID', () => {
    expect(read(nameCsr({ sid: printable('printable') })).sessionId).toBe('printable');
  });

  it('accepts a 1-character session ID', () => {
    expect(read(nameCsr({ sid: utf8('x') })).sessionId).toBe('x');
  });

  it('accepts a 32-character session ID with spaces and punctuation (printable ASCII)', () => {
    const sid = ' !~abcdefghijklmnopqrstuvwxyz012';
    expect(sid).toHaveLength(32);
    expect(read(nameCsr({ sid: utf8(sid) })).sessionId).toBe(sid);
  });

  it('accepts capabilities as raw attributes only', () => {
    expect(read(capsCsr(kuAttr(KU.digitalSignature), bcAttr(seq(bool(false))))).capabilities.digitalSignature).toBe(true);
  });

  it('accepts a raw keyUsage attribute without basicConstraints (cA defaults to FALSE)', () => {
    expect(read(capsCsr(kuAttr())).capabilities.cA).toBe(false);
  });

  it('accepts capabilities as an extensionRequest only (OpenSSL encoding: BC 30 00, KU 03 02 07 80)', () => {
    const csr = read(capsCsr(extReqAttr(ext(OID.keyUsage, KU.digitalSignatureStd), ext(OID.basicConstraints, seq()))));
    expect(csr.capabilities.digitalSignature).toBe(true);
    expect(csr.capabilities.cA).toBe(false);
  });

  it('accepts capabilities as both raw attributes and extensionRequest when they agree', () => {
    const csr = read(capsCsr(kuAttr(), bcAttr(), extReqAttr(ext(OID.keyUsage, KU.digitalSignatureStd), ext(OID.basicConstraints, hex('3003010100')))));
    expect(csr.capabilities.digitalSignature).toBe(true);
  });

  it('accepts contentCommitment alone (library encoding 03 02 01 40)', () => {
    const csr = read(capsCsr(kuAttr(KU.contentCommitment), bcAttr()));
    expect(csr.capabilities.contentCommitment).toBe(true);
    expect(csr.capabilities.digitalSignature).toBe(false);
  });

  it('ignores other attributes (challengePassword) and non-critical unknown requested extensions', () => {
    const csr = read(
      capsCsr(attr(OID.challengePassword, utf8('pw')), kuAttr(), extReqAttr(ext(OID.subjectKeyIdentifier, hex('04020102'), false))),
    );
    expect(csr.capabilities.digitalSignature).toBe(true);
  });

  it('ignores unknown name attributes (e.g. organizationName)', () => {
    expect(read(nameCsr({ extra: [rdn('2.5.4.10', utf8('Org'))] })).sessionId).toBe('sess1');
  });

  it('accepts bare base64 DER, raw DER bytes and PEM given as bytes', () => {
    const der = makeCsr();
    expect(readIdCsr(der.toString('base64'), policy).sessionId).toBe('sess1');
    expect(readIdCsr(der, policy).sessionId).toBe('sess1');
    expect(readIdCsr(Buffer.from(pem(der)), policy).sessionId).toBe('sess1');
  });

  it('works without actorLocalName and normalizes the policy (case)', () => {
    expect(read(makeCsr(), { domain: 'EXAMPLE.com' }).federationId.toString()).toBe('alice@example.com');
    expect(read(makeCsr(), { domain: 'example.com', actorLocalName: 'ALICE' }).federationId.localName).toBe('alice');
  });

  it('accepts a multi-label domain with DCs TLD first', () => {
    const der = nameCsr({ local: 'flori', domain: 'chat.polyphony.example' });
    expect(read(der, { domain: 'chat.polyphony.example', actorLocalName: 'flori' }).federationId.toString()).toBe('flori@chat.polyphony.example');
  });
});

describe('readIdCsr — rejection cases: structure and crypto', () => {
  it('case 1: refuses a CSR whose signature does not verify (subject byte flipped after signing)', () => {
    const der = makeCsr({
      tamper: (info) => {
        const copy = Buffer.from(info);
        const at = copy.indexOf(Buffer.from('alice@example.com'));
        copy[at] ^= 0x01; // 'alice' → '`lice'
        return copy;
      },
    });
    rejects(der, 'CSR_SIGNATURE_INVALID', 'signature');
  });

  it('case 1b: refuses a signature made by another key', () => {
    const other = randomKey();
    rejects(makeCsr({ signature: (info) => other.sign(info) }), 'CSR_SIGNATURE_INVALID', 'signature');
  });

  it('case 2: refuses a signature algorithm other than Ed25519 (ecdsa-with-SHA256)', () => {
    rejects(makeCsr({ sigAlg: seq(oid(OID.ecdsaWithSha256)) }), 'CSR_ALGORITHM_UNSUPPORTED', 'signatureAlgorithm');
  });

  it('case 2b: refuses an Ed25519 signature AlgorithmIdentifier with a NULL parameter', () => {
    rejects(makeCsr({ sigAlg: seq(oid(OID.ed25519), nul()) }), 'CSR_ALGORITHM_UNSUPPORTED', 'signatureAlgorithm');
  });

  it('case 3a: refuses an SPKI algorithm other than Ed25519', () => {
    const key = randomKey();
    rejects(makeCsr({ key, spki: seq(seq(oid(OID.ecPublicKey), oid('1.2.840.10045.3.1.7')), bits(key.publicKey)) }), 'CSR_ALGORITHM_UNSUPPORTED', 'subjectPublicKeyInfo.algorithm');
  });

  it('case 3b: refuses an Ed25519 SPKI with a NULL parameter', () => {
    const key = randomKey();
    rejects(makeCsr({ key, spki: seq(seq(oid(OID.ed25519), nul()), bits(key.publicKey)) }), 'CSR_ALGORITHM_UNSUPPORTED', 'subjectPublicKeyInfo.algorithm');
  });

  it.each([31, 33])('case 3c: refuses an Ed25519 key of %i bytes', (n) => {
    const key = randomKey();
    const raw = Buffer.concat([key.publicKey, Buffer.alloc(1)]).subarray(0, n);
    rejects(makeCsr({ key, spki: seq(ED25519_ALG, bits(raw)) }), 'CSR_PUBLIC_KEY_INVALID', 'subjectPublicKeyInfo.subjectPublicKey');
  });

  it('case 4: refuses a small-order public key even with a signature node:crypto accepts (identity key, R = identity, S = 0)', () => {
    const identity = hex('0100000000000000000000000000000000000000000000000000000000000000');
    const forged = Buffer.concat([identity, Buffer.alloc(32)]);
    const der = makeCsr({ spki: ed25519Spki(identity), signature: () => forged });
    rejects(der, 'CSR_PUBLIC_KEY_WEAK', 'subjectPublicKeyInfo.subjectPublicKey');
  });

  it('case 4b: refuses a non-canonical public key encoding (y ≥ p)', () => {
    const nonCanonical = hex('eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    rejects(makeCsr({ spki: ed25519Spki(nonCanonical) }), 'CSR_PUBLIC_KEY_WEAK', 'subjectPublicKeyInfo.subjectPublicKey');
  });

  it('case 5: refuses a PKCS#10 version other than 0', () => {
    rejects(makeCsr({ version: int(1) }), 'CSR_VERSION_UNSUPPORTED', 'version');
  });

  it('case 6a: refuses a PEM that is a CERTIFICATE, not a CERTIFICATE REQUEST', () => {
    expectPolyprotoError(() => readIdCsr(pem(makeCsr(), 'CERTIFICATE'), policy), 'CSR_MALFORMED', 'pem');
  });

  it('case 6b: refuses garbage base64', () => {
    expectPolyprotoError(() => readIdCsr('-----BEGIN CERTIFICATE REQUEST-----\n!!!notbase64***\n-----END CERTIFICATE REQUEST-----\n', policy), 'CSR_MALFORMED', 'pem');
    expectPolyprotoError(() => readIdCsr('bm90IGEgY3Ny', policy), 'CSR_MALFORMED', 'certificationRequest');
  });

  it('refuses a signature that is not 64 bytes', () => {
    rejects(makeCsr({ signature: (info, key) => key.sign(info).subarray(0, 63) }), 'CSR_SIGNATURE_INVALID', 'signature');
  });

  it('refuses a non-canonical signature scalar (S + L)', () => {
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const der = makeCsr({
      signature: (info, key) => {
        const sig = key.sign(info);
        const s = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`) + L;
        const sBytes = Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse();
        return Buffer.concat([sig.subarray(0, 32), sBytes]);
      },
    });
    rejects(der, 'CSR_SIGNATURE_INVALID', 'signature');
  });

  it('refuses trailing bytes after the CertificationRequest', () => {
    rejects(Buffer.concat([makeCsr(), Buffer.of(0)]), 'CSR_MALFORMED', 'certificationRequest');
  });
});

describe('readIdCsr — rejection cases: names', () => {
  it('case 7: refuses a subject with no DC', () => {
    rejects(nameCsr({ dcs: [] }), 'CSR_NAME_INVALID', 'subject.domainComponent');
  });

  it('case 8: refuses a subject with two CN attributes', () => {
    rejects(nameCsr({ extra: [rdn(OID.cn, utf8('alice'))] }), 'CSR_NAME_INVALID', 'subject.commonName');
  });

  it('case 9: refuses a subject with two UID attributes', () => {
    rejects(nameCsr({ extra: [rdn(OID.uid, utf8('alice@example.com'))] }), 'CSR_NAME_INVALID', 'subject.uid');
  });

  it('case 10: refuses a subject with two uniqueIdentifier attributes', () => {
    rejects(nameCsr({ extra: [rdn(OID.uniqueIdentifier, utf8('sess2'))] }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it('case 11: refuses UID without uniqueIdentifier', () => {
    rejects(nameCsr({ sid: null }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it('case 12: refuses uniqueIdentifier without UID', () => {
    rejects(nameCsr({ uid: null }), 'CSR_NAME_INVALID', 'subject.uid');
  });

  it('case 13: refuses an actor CSR with neither UID nor uniqueIdentifier', () => {
    rejects(nameCsr({ uid: null, sid: null }), 'CSR_NAME_INVALID', 'subject.uid');
  });

  it('case 14: refuses an empty uniqueIdentifier', () => {
    rejects(nameCsr({ sid: utf8('') }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it('case 15: refuses a 33-character uniqueIdentifier', () => {
    rejects(nameCsr({ sid: utf8('x'.repeat(33)) }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it.each([
    ['ü', 'sessü'],
    ['CJK', 'session中文'],
  ])('case 16: refuses a uniqueIdentifier with a non-ASCII character (%s)', (_label, sid) => {
    rejects(nameCsr({ sid: utf8(sid) }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['DEL', 'a\u007fb'],
  ])('case 17: refuses a uniqueIdentifier with a control character (%s)', (_label, sid) => {
    rejects(nameCsr({ sid: utf8(sid) }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it.each(['alice@', '1', '@example.com', 'alice@example..com', 'alice example@example.com'])(
    'case 18: refuses a UID that is not a federation ID (%j)',
    (uid) => {
      rejects(nameCsr({ uid }), 'CSR_NAME_INVALID', 'subject.uid');
    },
  );

  it('case 19: refuses a UID with uppercase letters', () => {
    const e = expectPolyprotoError(() => read(nameCsr({ uid: 'Alice@example.com', cn: 'Alice' })), 'CSR_NAME_INVALID', 'subject.uid');
    expect(e.rule).toMatch(/lowercase/);
  });

  it('case 20: refuses a UID domain that differs from the DC list', () => {
    rejects(nameCsr({ uid: 'alice@example.cat' }), 'CSR_NAME_INVALID', 'subject.domainComponent');
  });

  it('case 21: refuses DCs in reversed order (DER example, com instead of com, example)', () => {
    rejects(nameCsr({ dcs: ['example', 'com'] }), 'CSR_NAME_INVALID', 'subject.domainComponent');
  });

  it('case 22: refuses a UID domain with an extra leading label not present in the DCs', () => {
    rejects(nameCsr({ uid: 'alice@thisis.example.com' }), 'CSR_NAME_INVALID', 'subject.domainComponent');
  });

  it('refuses extra DCs beyond the UID domain labels (exact equality, server policy)', () => {
    rejects(nameCsr({ dcs: ['com', 'example', 'extra'] }), 'CSR_NAME_INVALID', 'subject.domainComponent');
  });

  it('case 23: refuses a CN that differs from the UID local part', () => {
    rejects(nameCsr({ cn: 'bitfl0wer' }), 'CSR_NAME_INVALID', 'subject.commonName');
  });

  it('case 24: refuses CN = the full federation ID, with a message saying so', () => {
    const e = expectPolyprotoError(() => read(nameCsr({ cn: 'alice@example.com' })), 'CSR_NAME_INVALID', 'subject.commonName');
    expect(e.rule).toBe('CN must be the local part of the federation ID, not the full federation ID');
    expect(e.message).toMatch(/not the full federation ID/);
    expect(e.message).toContain('"alice"');
  });

  it("case 25: refuses a UID domain other than this home server's", () => {
    rejects(nameCsr({ domain: 'other.org' }), 'CSR_NAME_INVALID', 'subject.uid');
  });

  it('case 26: refuses a UID local part other than the authenticated actor', () => {
    rejects(makeCsr(), 'CSR_NAME_INVALID', 'subject.uid', { domain: 'example.com', actorLocalName: 'bob' });
  });

  it('case 27: refuses an actor CSR without CN (server policy)', () => {
    rejects(nameCsr({ cn: null }), 'CSR_NAME_INVALID', 'subject.commonName');
  });

  it('refuses a polyproto name attribute with an unaccepted string type (BMPString)', () => {
    rejects(nameCsr({ sid: bmp('sess1') }), 'CSR_NAME_INVALID', 'subject.uniqueIdentifier');
  });

  it('refuses a local part longer than 64 characters', () => {
    const local = 'a'.repeat(65);
    rejects(nameCsr({ local }), 'CSR_NAME_INVALID', 'subject.uid', { domain: 'example.com' });
  });
});

describe('readIdCsr — rejection cases: capabilities', () => {
  it('case 28: refuses basicConstraints cA TRUE', () => {
    rejects(capsCsr(kuAttr(), bcAttr(seq(bool(true)))), 'CSR_CAPABILITIES_INVALID', 'attributes.basicConstraints');
  });

  it('case 29: refuses keyCertSign even with cA FALSE', () => {
    rejects(capsCsr(kuAttr(kuBits(0x84)), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('case 30: refuses a CSR with no keyUsage at all', () => {
    rejects(capsCsr(bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('case 30b: refuses a CSR without any attributes ([0] absent)', () => {
    rejects(makeCsr({ attributes: null }), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('case 30c: refuses a keyUsage attribute with zero values (no usages)', () => {
    rejects(capsCsr(attr(OID.keyUsage), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('case 31: refuses digitalSignature together with contentCommitment', () => {
    const e = expectPolyprotoError(() => read(capsCsr(kuAttr(kuBits(0xc0)), bcAttr())), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
    expect(e.rule).toBe('digitalSignature and contentCommitment together are refused');
  });

  it('case 32a: refuses encipherOnly without keyAgreement', () => {
    const e = expectPolyprotoError(() => read(capsCsr(kuAttr(kuBits(0x81)), bcAttr())), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
    expect(e.rule).toMatch(/keyAgreement/);
  });

  it('case 32b: refuses decipherOnly without keyAgreement', () => {
    const e = expectPolyprotoError(() => read(capsCsr(kuAttr(kuBits(0x80, 0x80)), bcAttr())), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
    expect(e.rule).toMatch(/keyAgreement/);
  });

  it('case 33: refuses two basicConstraints attributes', () => {
    rejects(capsCsr(kuAttr(), bcAttr(), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.basicConstraints');
  });

  it.each([
    ['lacks the BOOLEAN (empty SEQUENCE)', seq()],
    ['lacks the BOOLEAN (INTEGER only)', seq(int(0))],
    ['has two BOOLEANs', seq(bool(false), bool(false))],
    ['has two INTEGERs', seq(bool(false), int(0), int(0))],
    ['holds an IA5String', seq(bool(false), ia5('x'))],
  ])('case 34: refuses a basicConstraints SEQUENCE that %s', (_label, value) => {
    rejects(capsCsr(kuAttr(), bcAttr(value)), 'CSR_CAPABILITIES_INVALID', 'attributes.basicConstraints');
  });

  it('case 35: refuses a BOOLEAN with content 0x02', () => {
    rejects(capsCsr(kuAttr(), bcAttr(seq(hex('010102')))), 'CSR_CAPABILITIES_INVALID', 'attributes.basicConstraints');
  });

  it('case 36: refuses a keyUsage attribute with two values', () => {
    rejects(capsCsr(kuAttr(KU.digitalSignature, KU.digitalSignature), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('refuses raw keyUsage and extensionRequest keyUsage that disagree', () => {
    rejects(capsCsr(kuAttr(KU.digitalSignature), extReqAttr(ext(OID.keyUsage, KU.contentCommitment))), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('refuses raw basicConstraints and extensionRequest basicConstraints that disagree', () => {
    rejects(
      capsCsr(kuAttr(), bcAttr(seq(bool(false))), extReqAttr(ext(OID.basicConstraints, seq(bool(true))))),
      'CSR_CAPABILITIES_INVALID',
      'attributes.basicConstraints',
    );
  });

  it('refuses cA TRUE requested through extensionRequest', () => {
    rejects(capsCsr(extReqAttr(ext(OID.keyUsage, KU.digitalSignature), ext(OID.basicConstraints, seq(bool(true))))), 'CSR_CAPABILITIES_INVALID', 'attributes.basicConstraints');
  });

  it('refuses an unknown critical extension in extensionRequest', () => {
    rejects(capsCsr(kuAttr(), extReqAttr(ext(OID.subjectKeyIdentifier, hex('04020102'), true))), 'CSR_CAPABILITIES_INVALID', 'attributes.extensionRequest');
  });

  it('refuses a pathLen on an actor (server policy)', () => {
    rejects(capsCsr(kuAttr(), bcAttr(seq(bool(false), int(0)))), 'CSR_CAPABILITIES_INVALID', 'attributes.basicConstraints');
  });

  it('refuses usages beyond digitalSignature/contentCommitment (keyAgreement, cRLSign) — server policy', () => {
    rejects(capsCsr(kuAttr(kuBits(0x88)), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
    rejects(capsCsr(kuAttr(kuBits(0x82)), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });

  it('refuses a keyUsage that is not a BIT STRING', () => {
    rejects(capsCsr(kuAttr(rawInt('80')), bcAttr()), 'CSR_CAPABILITIES_INVALID', 'attributes.keyUsage');
  });
});

/**
 * Reading own and foreign ID-Certs: structure (docs/protocol.md#presented-certs; cases 40–52 of
 * docs/protocol.md#rejection-cases),
 * both the reference library's and the standard extension encodings, validity at a time, and the
 * strict Ed25519 signature over the ORIGINAL TBSCertificate bytes (the library re-encodes; we do
 * not need to, and verifying the real bytes is what every other implementation does).
 */
import {
  checkCapabilities,
  noKeyUsages,
  readBasicConstraints,
  readKeyUsage,
  type BasicConstraints,
  type Capabilities,
  type CapabilityFields,
  type KeyUsages,
} from './capabilities';
import { DerReader, TAG, type Tlv } from './der';
import { checkActorName, checkHomeServerName, dcListsEqual, readName } from './distinguished-name';
import { ed25519PublicKeyProblem, ed25519VerifyStrict } from './ed25519-strict';
import { fail, quote } from './errors';
import type { FederationId } from './federation-id';
import { ED25519_ALGORITHM_ID, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE } from './oids';
import { decodePemOrDer } from './pem';
import { readTime } from './time';

export interface IdCert {
  der: Uint8Array;
  /** The TBSCertificate exactly as signed. */
  tbsDer: Uint8Array;
  serial: bigint;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  /** The domain spelled by the issuer's DCs (TLD-first DER order reversed, joined with dots). */
  issuerDomain: string;
  /** Raw 32-byte Ed25519 key. */
  publicKey: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  capabilities: Capabilities;
  /** Actor certificates only. */
  federationId?: FederationId;
  /** Actor certificates only. */
  sessionId?: string;
  signature: Uint8Array;
}

export interface ReadIdCertOptions {
  /** Which rules apply: an actor's cert or a home server's root. */
  target: 'actor' | 'home-server';
  /** When given, the certificate must be valid at this time (inclusive bounds, whole seconds). */
  at?: Date;
  /**
   * Key that must have signed the TBS. Default: the certificate's own key for `home-server`
   * (self-signed); for `actor` no signature check is made without it.
   */
  issuerPublicKey?: Uint8Array;
}

const FIELDS: CapabilityFields = { code: 'CERT_CAPABILITIES_INVALID', keyUsage: 'extensions.keyUsage', basicConstraints: 'extensions.basicConstraints' };

interface CertLayout {
  r: DerReader;
  tbs: Tlv;
  serial: Tlv;
  issuer: Tlv;
  validity: Tlv;
  subject: Tlv;
  spki: Tlv;
  extensions?: Tlv;
  sigAlg: Tlv;
  tbsSigAlg: Tlv;
  sigBits: Tlv;
  version?: Tlv;
  uniqueId?: { tlv: Tlv; field: string };
}

function layout(der: Uint8Array): CertLayout {
  const r = new DerReader(der, 'CERT_MALFORMED');
  const cert = r.expect(0, der.length, TAG.SEQUENCE, 'certificate');
  if (cert.end !== der.length) r.fail('certificate', 'RFC 5280: nothing may follow the Certificate');
  const tbs = r.expect(cert.contentStart, cert.end, TAG.SEQUENCE, 'tbsCertificate');
  const sigAlg = r.expect(tbs.end, cert.end, TAG.SEQUENCE, 'signatureAlgorithm');
  const sigBits = r.expect(sigAlg.end, cert.end, TAG.BIT_STRING, 'signature');
  if (sigBits.end !== cert.end) r.fail('certificate', 'RFC 5280: Certificate is { tbsCertificate, signatureAlgorithm, signature }');
  let pos = tbs.contentStart;
  let version: Tlv | undefined;
  const first = r.read(pos, tbs.end, 'version');
  if (first.tag === 0xa0) {
    version = first;
    pos = first.end;
  }
  const serial = r.expect(pos, tbs.end, TAG.INTEGER, 'serialNumber');
  const tbsSigAlg = r.expect(serial.end, tbs.end, TAG.SEQUENCE, 'tbsCertificate.signature');
  const issuer = r.expect(tbsSigAlg.end, tbs.end, TAG.SEQUENCE, 'issuer');
  const validity = r.expect(issuer.end, tbs.end, TAG.SEQUENCE, 'validity');
  const subject = r.expect(validity.end, tbs.end, TAG.SEQUENCE, 'subject');
  const spki = r.expect(subject.end, tbs.end, TAG.SEQUENCE, 'subjectPublicKeyInfo');
  const out: CertLayout = { r, tbs, serial, issuer, validity, subject, spki, sigAlg, tbsSigAlg, sigBits, version };
  pos = spki.end;
  let lastTag = 0;
  while (pos < tbs.end) {
    const t = r.read(pos, tbs.end, 'tbsCertificate');
    const n = t.tag & 0x1f;
    if ((t.tag & 0xc0) !== 0x80 || n < 1 || n > 3 || n <= lastTag) r.fail('tbsCertificate', 'RFC 5280: after the key only [1] issuerUniqueID, [2] subjectUniqueID, [3] extensions, in order');
    if (n === 3) out.extensions = t;
    else out.uniqueId ??= { tlv: t, field: n === 1 ? 'issuerUniqueID' : 'subjectUniqueID' };
    lastTag = n;
    pos = t.end;
  }
  return out;
}

function readSerial(r: DerReader, t: Tlv): bigint {
  const rule = 'a serial is a positive DER INTEGER of 1–20 octets';
  const len = t.end - t.contentStart;
  const b = r.buf;
  if (len === 0 || len > 20) fail('CERT_SERIAL_INVALID', 'serialNumber', rule, `${len} octets`);
  if (b[t.contentStart] & 0x80) fail('CERT_SERIAL_INVALID', 'serialNumber', rule, 'negative');
  if (len > 1 && b[t.contentStart] === 0 && (b[t.contentStart + 1] & 0x80) === 0) fail('CERT_SERIAL_INVALID', 'serialNumber', rule, 'non-minimal encoding');
  const value = BigInt(`0x${Buffer.from(r.content(t)).toString('hex')}`);
  if (value === 0n) fail('CERT_SERIAL_INVALID', 'serialNumber', rule, 'zero');
  return value;
}

/** The serial number of a certificate, with only the structural checks needed to find it. */
export function readIdCertSerial(input: string | Uint8Array): bigint {
  const l = layout(decodePemOrDer(input, 'CERTIFICATE'));
  return readSerial(l.r, l.serial);
}

function readExtensions(r: DerReader, ext: Tlv | undefined): { ku?: KeyUsages; bc?: BasicConstraints } {
  const code = 'CERT_EXTENSIONS_INVALID';
  if (!ext) fail(code, 'extensions', 'an ID-Cert carries an extensions field');
  if (ext.tag !== 0xa3) r.fail('extensions', 'RFC 5280: extensions is [3] EXPLICIT (constructed)');
  const e = new DerReader(r.buf, code);
  const seq = r.expect(ext.contentStart, ext.end, TAG.SEQUENCE, 'extensions');
  if (seq.end !== ext.end) r.fail('extensions', 'RFC 5280: [3] holds exactly one Extensions SEQUENCE');
  const list = r.children(seq, 'extensions');
  if (list.length === 0) fail(code, 'extensions', 'RFC 5280: Extensions holds at least one Extension');
  const out: { ku?: KeyUsages; bc?: BasicConstraints } = {};
  for (const x of list) {
    if (x.tag !== TAG.SEQUENCE) r.fail('extensions', 'RFC 5280: an Extension is a SEQUENCE');
    const id = r.expect(x.contentStart, x.end, TAG.OID, 'extensions');
    let next = r.read(id.end, x.end, 'extensions');
    const isKu = r.contentEquals(id, OID_KEY_USAGE);
    const isBc = r.contentEquals(id, OID_BASIC_CONSTRAINTS);
    if (!isKu && !isBc) {
      fail(code, 'extensions', 'only basicConstraints and keyUsage are allowed', `found OID bytes ${Buffer.from(r.content(id)).toString('hex')}`);
    }
    const field = isKu ? 'extensions.keyUsage' : 'extensions.basicConstraints';
    if ((isKu && out.ku) || (isBc && out.bc)) fail(code, field, 'RFC 5280 §4.2: an extension appears at most once');
    let critical = false;
    if (next.tag === TAG.BOOLEAN) {
      critical = e.boolean(next, field);
      next = r.read(next.end, x.end, field);
    }
    if (next.tag !== TAG.OCTET_STRING || next.end !== x.end) r.fail(field, 'RFC 5280: an Extension is { extnID, critical, extnValue OCTET STRING }');
    if (!critical) fail(code, field, 'basicConstraints and keyUsage must be marked critical');
    const inner = e.read(next.contentStart, next.end, field);
    if (inner.end !== next.end) e.fail(field, 'RFC 5280: extnValue holds exactly one DER value');
    if (isKu) out.ku = readKeyUsage(e, inner, field);
    else out.bc = readBasicConstraints(e, inner, field, false);
  }
  return out;
}

/**
 * Reads an ID-Cert (PEM, bare base64 DER or raw DER) and checks it for `opts.target`; see
 * {@link ReadIdCertOptions}. Throws PolyprotoError (`CERT_*`) on any refusal.
 */
export function readIdCert(input: string | Uint8Array, opts: ReadIdCertOptions): IdCert {
  if (!opts || (opts.target !== 'actor' && opts.target !== 'home-server')) {
    fail('CERT_OPTIONS_INVALID', 'target', "target must be 'actor' or 'home-server'");
  }
  const der = decodePemOrDer(input, 'CERTIFICATE');
  const l = layout(der);
  const r = l.r;

  // version (case 40), serial (46), algorithms, unique IDs (50)
  if (!l.version) fail('CERT_VERSION_UNSUPPORTED', 'version', 'ID-Certs are X.509 v3', 'version field absent (v1)');
  const v = r.read(l.version.contentStart, l.version.end, 'version');
  if (v.end !== l.version.end || !r.equals(v, Uint8Array.of(0x02, 0x01, 0x02))) fail('CERT_VERSION_UNSUPPORTED', 'version', 'ID-Certs are X.509 v3');
  const serial = readSerial(r, l.serial);
  if (!r.equals(l.sigAlg, ED25519_ALGORITHM_ID)) fail('CERT_ALGORITHM_UNSUPPORTED', 'signatureAlgorithm', 'Ed25519 (1.3.101.112) without parameters');
  if (!r.equals(l.tbsSigAlg, ED25519_ALGORITHM_ID)) fail('CERT_ALGORITHM_UNSUPPORTED', 'tbsCertificate.signature', 'Ed25519 (1.3.101.112) without parameters');
  if (l.uniqueId) fail('CERT_MALFORMED', l.uniqueId.field, 'ID-Certs carry no issuer/subject unique IDs (the reference library drops them when re-encoding)');
  const spkiAlg = r.expect(l.spki.contentStart, l.spki.end, TAG.SEQUENCE, 'subjectPublicKeyInfo.algorithm');
  const keyBits = r.expect(spkiAlg.end, l.spki.end, TAG.BIT_STRING, 'subjectPublicKeyInfo.subjectPublicKey');
  if (keyBits.end !== l.spki.end) r.fail('subjectPublicKeyInfo', 'RFC 5280: SubjectPublicKeyInfo is { algorithm, subjectPublicKey }');
  if (!r.equals(spkiAlg, ED25519_ALGORITHM_ID)) fail('CERT_ALGORITHM_UNSUPPORTED', 'subjectPublicKeyInfo.algorithm', 'Ed25519 keys only');
  if (keyBits.end - keyBits.contentStart !== 33 || der[keyBits.contentStart] !== 0) {
    fail('CERT_PUBLIC_KEY_INVALID', 'subjectPublicKeyInfo.subjectPublicKey', 'an Ed25519 key is a 32-byte BIT STRING');
  }
  const publicKey = der.subarray(keyBits.contentStart + 1, keyBits.end);
  const keyProblem = ed25519PublicKeyProblem(publicKey);
  if (keyProblem) fail('CERT_PUBLIC_KEY_WEAK', 'subjectPublicKeyInfo.subjectPublicKey', 'small-order and non-canonical Ed25519 keys are refused', keyProblem);
  if (l.sigBits.end - l.sigBits.contentStart !== 65 || der[l.sigBits.contentStart] !== 0) {
    fail('CERT_SIGNATURE_INVALID', 'signature', 'an Ed25519 signature is a 64-byte BIT STRING');
  }
  const signature = der.subarray(l.sigBits.contentStart + 1, l.sigBits.end);

  // extensions (41–43) and capabilities (51)
  const ext = readExtensions(r, l.extensions);
  const bc = ext.bc ?? { cA: false };
  const capabilities: Capabilities = { cA: bc.cA, ...(bc.pathLen === undefined ? {} : { pathLen: bc.pathLen }), ...(ext.ku ?? noKeyUsages()) };

  // names (44, 45, 51)
  const issuerNames = readName(r, l.issuer, 'issuer', 'CERT_NAME_INVALID');
  const issuerDomain = checkHomeServerName(issuerNames, 'CERT_NAME_INVALID', 'issuer');
  const subjectNames = readName(r, l.subject, 'subject', 'CERT_NAME_INVALID');
  let federationId: FederationId | undefined;
  let sessionId: string | undefined;
  if (opts.target === 'actor') {
    ({ federationId, sessionId } = checkActorName(subjectNames, { code: 'CERT_NAME_INVALID', field: 'subject', requireCn: false }));
  } else {
    checkHomeServerName(subjectNames, 'CERT_NAME_INVALID', 'subject');
  }
  if (!dcListsEqual(issuerNames.dc, subjectNames.dc)) {
    fail('CERT_NAME_INVALID', 'issuer.domainComponent', 'issuer and subject DCs must be identical and in the same order');
  }
  checkCapabilities(capabilities, opts.target, FIELDS);

  // validity (47)
  const vItems = r.children(l.validity, 'validity');
  if (vItems.length !== 2) r.fail('validity', 'RFC 5280: Validity is { notBefore, notAfter }');
  const notBefore = readTime(r, vItems[0], 'validity.notBefore');
  const notAfter = readTime(r, vItems[1], 'validity.notAfter');
  if (notBefore.getTime() > notAfter.getTime()) fail('CERT_VALIDITY_INVALID', 'validity', 'RFC 5280 §4.1.2.5: notBefore must not follow notAfter');
  if (opts.at !== undefined) {
    if (!(opts.at instanceof Date) || !Number.isFinite(opts.at.getTime())) fail('CERT_OPTIONS_INVALID', 'at', 'a valid Date is required');
    const t = Math.floor(opts.at.getTime() / 1000) * 1000;
    if (t < notBefore.getTime() || t > notAfter.getTime()) {
      fail('CERT_NOT_VALID_AT_TIME', 'validity', 'notBefore ≤ t ≤ notAfter', `t = ${new Date(t).toISOString()}, validity ${notBefore.toISOString()} – ${notAfter.toISOString()}`);
    }
  }

  // signature (49, 52) over the original TBS bytes
  const tbsDer = r.bytes(l.tbs);
  const verifyKey = opts.issuerPublicKey ?? (opts.target === 'home-server' ? publicKey : undefined);
  if (verifyKey !== undefined && !ed25519VerifyStrict(verifyKey, tbsDer, signature)) {
    fail(
      'CERT_SIGNATURE_INVALID',
      'signature',
      opts.target === 'home-server' && !opts.issuerPublicKey
        ? 'the home-server certificate must verify with its own key'
        : 'the certificate must verify (strict Ed25519) with the issuer key over its TBSCertificate',
    );
  }

  const cert: IdCert = {
    der,
    tbsDer,
    serial,
    issuerDer: r.bytes(l.issuer),
    subjectDer: r.bytes(l.subject),
    issuerDomain,
    publicKey,
    notBefore,
    notAfter,
    capabilities,
    signature,
  };
  if (federationId) {
    cert.federationId = federationId;
    cert.sessionId = sessionId;
  }
  return cert;
}

/**
 * Checks an actor certificate against the home-server root that issued it: issuer DCs equal the
 * root's subject DCs (docs/protocol.md#presented-certs), validity inside the root's
 * (docs/protocol.md#cert-validity, case 48) and the
 * signature with the root key (case 49). Both are results of {@link readIdCert}.
 */
export function checkActorCertAgainstRoot(cert: IdCert, root: IdCert): void {
  for (const c of [cert, root]) {
    if (!c || !(c.notBefore instanceof Date) || !(c.notAfter instanceof Date) || !(c.tbsDer instanceof Uint8Array)) {
      fail('CERT_OPTIONS_INVALID', 'cert', 'two IdCert values returned by readIdCert are required');
    }
  }
  if (cert.issuerDomain !== root.issuerDomain) {
    fail('CERT_NAME_INVALID', 'issuer', 'the issuer must be the home-server root subject', `${quote(cert.issuerDomain)} vs ${quote(root.issuerDomain)}`);
  }
  if (cert.notBefore.getTime() < root.notBefore.getTime()) {
    fail('CERT_VALIDITY_INVALID', 'validity.notBefore', 'an actor certificate must not start before its root certificate');
  }
  if (cert.notAfter.getTime() > root.notAfter.getTime()) {
    fail('CERT_VALIDITY_INVALID', 'validity.notAfter', 'an actor certificate must not end after its root certificate');
  }
  if (!ed25519VerifyStrict(root.publicKey, cert.tbsDer, cert.signature)) {
    fail('CERT_SIGNATURE_INVALID', 'signature', 'the certificate must verify with the home-server key');
  }
}

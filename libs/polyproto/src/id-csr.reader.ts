/**
 * ID-CSR intake, steps 1–5 of docs/protocol.md#csr-intake: decode → PKCS#10 structure → algorithms and key →
 * strict signature over the original CertificationRequestInfo bytes → names (#csr-names + server policy)
 * → capabilities (#csr-capabilities + server policy). Any refusal is a PolyprotoError naming field and rule.
 */
import {
  basicConstraintsEqual,
  checkActorIssuancePolicy,
  checkCapabilities,
  keyUsagesEqual,
  noKeyUsages,
  readBasicConstraints,
  readKeyUsage,
  type BasicConstraints,
  type Capabilities,
  type CapabilityFields,
  type KeyUsages,
} from './capabilities';
import { DerReader, TAG, type Tlv } from './der';
import { checkActorName, readName } from './distinguished-name';
import { ed25519PublicKeyProblem, ed25519VerifyStrict } from './ed25519-strict';
import { fail, quote } from './errors';
import { normalizeDomain, normalizeLocalName, type FederationId } from './federation-id';
import { ED25519_ALGORITHM_ID, OID_BASIC_CONSTRAINTS, OID_EXTENSION_REQUEST, OID_KEY_USAGE } from './oids';
import { decodePemOrDer } from './pem';

export interface IdCsr {
  /** The CSR's DER bytes. */
  readonly der: Uint8Array;
  /** The exact subject Name bytes (tag + length + content) as in the CSR. */
  readonly subjectDer: Uint8Array;
  /** Raw 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** From the UID attribute. */
  readonly federationId: FederationId;
  /** From the uniqueIdentifier attribute. */
  readonly sessionId: string;
  readonly capabilities: Capabilities;
}

/** The server's side of the CSR rules. */
export interface CsrPolicy {
  /** This home server's domain; the UID domain and the DCs must equal it. */
  domain: string;
  /** The actor asking (when known); the UID local part must equal it. */
  actorLocalName?: string;
}

const FIELDS: CapabilityFields = {
  code: 'CSR_CAPABILITIES_INVALID',
  keyUsage: 'attributes.keyUsage',
  basicConstraints: 'attributes.basicConstraints',
};
const KEY_RULE = 'an Ed25519 public key is a 32-byte BIT STRING with 0 unused bits';

/**
 * Reads and checks an ID-CSR (PEM, bare base64 DER or raw DER) for an actor of this server.
 * Throws PolyprotoError (`CSR_*`) on any refusal; see docs/protocol.md#rejection-cases cases 1–36.
 */
export function readIdCsr(input: string | Uint8Array, policy: CsrPolicy): IdCsr {
  if (!policy || typeof policy !== 'object') fail('CSR_POLICY_INVALID', 'policy', 'a CsrPolicy with the server domain is required');
  const ourDomain = normalizeDomain(policy.domain);
  const actor = policy.actorLocalName === undefined ? undefined : normalizeLocalName(policy.actorLocalName);

  // 1. decode and parse the PKCS#10 structure, keeping the original info bytes.
  const der = decodePemOrDer(input, 'CERTIFICATE REQUEST');
  const r = new DerReader(der, 'CSR_MALFORMED');
  const outer = r.expect(0, der.length, TAG.SEQUENCE, 'certificationRequest');
  if (outer.end !== der.length) r.fail('certificationRequest', 'RFC 2986: nothing may follow the CertificationRequest');
  const info = r.expect(outer.contentStart, outer.end, TAG.SEQUENCE, 'certificationRequestInfo');
  const sigAlg = r.expect(info.end, outer.end, TAG.SEQUENCE, 'signatureAlgorithm');
  const sigBits = r.expect(sigAlg.end, outer.end, TAG.BIT_STRING, 'signature');
  if (sigBits.end !== outer.end) r.fail('certificationRequest', 'RFC 2986: CertificationRequest is { info, signatureAlgorithm, signature }');
  const version = r.expect(info.contentStart, info.end, TAG.INTEGER, 'version');
  const subject = r.expect(version.end, info.end, TAG.SEQUENCE, 'subject');
  const spki = r.expect(subject.end, info.end, TAG.SEQUENCE, 'subjectPublicKeyInfo');
  let attributes: Tlv | undefined;
  if (spki.end < info.end) {
    attributes = r.expect(spki.end, info.end, 0xa0, 'attributes');
    if (attributes.end !== info.end) r.fail('certificationRequestInfo', 'RFC 2986: nothing may follow the attributes');
  }
  if (!r.contentEquals(version, Uint8Array.of(0))) fail('CSR_VERSION_UNSUPPORTED', 'version', 'the PKCS#10 version must be 0 (v1)');

  // 2. algorithms, key, signature length.
  if (!r.equals(sigAlg, ED25519_ALGORITHM_ID)) {
    fail('CSR_ALGORITHM_UNSUPPORTED', 'signatureAlgorithm', 'the signature algorithm must be Ed25519 (1.3.101.112) without parameters');
  }
  const spkiAlg = r.expect(spki.contentStart, spki.end, TAG.SEQUENCE, 'subjectPublicKeyInfo.algorithm');
  const keyBits = r.expect(spkiAlg.end, spki.end, TAG.BIT_STRING, 'subjectPublicKeyInfo.subjectPublicKey');
  if (keyBits.end !== spki.end) r.fail('subjectPublicKeyInfo', 'RFC 5280: SubjectPublicKeyInfo is { algorithm, subjectPublicKey }');
  if (!r.equals(spkiAlg, ED25519_ALGORITHM_ID)) {
    fail('CSR_ALGORITHM_UNSUPPORTED', 'subjectPublicKeyInfo.algorithm', 'the key algorithm must be Ed25519 (1.3.101.112) without parameters');
  }
  if (keyBits.end - keyBits.contentStart !== 33 || der[keyBits.contentStart] !== 0) {
    fail('CSR_PUBLIC_KEY_INVALID', 'subjectPublicKeyInfo.subjectPublicKey', KEY_RULE);
  }
  const publicKey = der.subarray(keyBits.contentStart + 1, keyBits.end);
  const keyProblem = ed25519PublicKeyProblem(publicKey);
  if (keyProblem) {
    fail('CSR_PUBLIC_KEY_WEAK', 'subjectPublicKeyInfo.subjectPublicKey', 'small-order and non-canonical Ed25519 keys are refused', keyProblem);
  }
  if (sigBits.end - sigBits.contentStart !== 65 || der[sigBits.contentStart] !== 0) {
    fail('CSR_SIGNATURE_INVALID', 'signature', 'an Ed25519 signature is a 64-byte BIT STRING with 0 unused bits');
  }

  // 3. strict signature over the original CertificationRequestInfo bytes.
  if (!ed25519VerifyStrict(publicKey, r.bytes(info), der.subarray(sigBits.contentStart + 1, sigBits.end))) {
    fail('CSR_SIGNATURE_INVALID', 'signature', 'the CSR signature must verify (strict Ed25519) with its own key over the CertificationRequestInfo');
  }

  // 4. names.
  const names = readName(r, subject, 'subject', 'CSR_NAME_INVALID');
  const { federationId, sessionId } = checkActorName(names, { code: 'CSR_NAME_INVALID', field: 'subject', requireCn: true });
  if (federationId.domain !== ourDomain) {
    fail('CSR_NAME_INVALID', 'subject.uid', 'the UID domain must be this home server\'s domain', `got ${quote(federationId.domain)}, expected ${quote(ourDomain)}`);
  }
  if (actor !== undefined && federationId.localName !== actor) {
    fail('CSR_NAME_INVALID', 'subject.uid', 'the UID local part must be the actor making the request', `got ${quote(federationId.localName)}`);
  }

  // 5. capabilities.
  const capabilities = readCsrCapabilities(der, attributes);
  checkCapabilities(capabilities, 'actor', FIELDS);
  checkActorIssuancePolicy(capabilities, FIELDS);

  return Object.freeze({
    der,
    subjectDer: r.bytes(subject),
    publicKey,
    federationId,
    sessionId,
    capabilities: Object.freeze(capabilities),
  });
}

/**
 * Capabilities from the reference library's raw attributes (type = extension OID, docs/protocol.md#csr-capabilities)
 * and from a PKCS#9 extensionRequest; when both carry a value they must agree.
 */
function readCsrCapabilities(der: Uint8Array, attributes: Tlv | undefined): Capabilities {
  const r = new DerReader(der, 'CSR_MALFORMED');
  const c = new DerReader(der, 'CSR_CAPABILITIES_INVALID');
  let rawKu: KeyUsages | undefined;
  let rawBc: BasicConstraints | undefined;
  let ext: { ku?: KeyUsages; bc?: BasicConstraints } | undefined;
  let bcCount = 0;
  let kuCount = 0;
  for (const attr of attributes ? r.children(attributes, 'attributes') : []) {
    if (attr.tag !== TAG.SEQUENCE) r.fail('attributes', 'RFC 2986: an attribute is SEQUENCE { type, SET OF value }');
    const type = r.expect(attr.contentStart, attr.end, TAG.OID, 'attributes');
    const values = r.expect(type.end, attr.end, TAG.SET, 'attributes');
    if (values.end !== attr.end) r.fail('attributes', 'RFC 2986: an attribute is SEQUENCE { type, SET OF value }');
    const items = r.children(values, 'attributes');
    if (r.contentEquals(type, OID_KEY_USAGE)) {
      if (++kuCount > 1) fail(FIELDS.code, FIELDS.keyUsage, 'at most one keyUsage attribute');
      if (items.length > 1) fail(FIELDS.code, FIELDS.keyUsage, 'the keyUsage attribute holds at most one value');
      rawKu = items.length === 0 ? noKeyUsages() : readKeyUsage(c, items[0], FIELDS.keyUsage);
    } else if (r.contentEquals(type, OID_BASIC_CONSTRAINTS)) {
      if (++bcCount > 1) fail(FIELDS.code, FIELDS.basicConstraints, 'at most one basicConstraints attribute');
      if (items.length !== 1) fail(FIELDS.code, FIELDS.basicConstraints, 'the basicConstraints attribute holds exactly one value');
      rawBc = readBasicConstraints(c, items[0], FIELDS.basicConstraints, true);
    } else if (r.contentEquals(type, OID_EXTENSION_REQUEST)) {
      if (ext) fail(FIELDS.code, 'attributes.extensionRequest', 'RFC 2985: at most one extensionRequest attribute');
      if (items.length !== 1) fail(FIELDS.code, 'attributes.extensionRequest', 'RFC 2985: extensionRequest holds exactly one Extensions value');
      ext = readExtensionRequest(r, c, items[0]);
    }
  }
  if (rawKu && ext?.ku && !keyUsagesEqual(rawKu, ext.ku)) {
    fail(FIELDS.code, FIELDS.keyUsage, 'the keyUsage attribute and the extensionRequest keyUsage must agree');
  }
  if (rawBc && ext?.bc && !basicConstraintsEqual(rawBc, ext.bc)) {
    fail(FIELDS.code, FIELDS.basicConstraints, 'the basicConstraints attribute and the extensionRequest basicConstraints must agree');
  }
  const ku = rawKu ?? ext?.ku;
  const bc = rawBc ?? ext?.bc ?? { cA: false };
  if (!ku) fail(FIELDS.code, FIELDS.keyUsage, 'an actor CSR must request a keyUsage (attribute 2.5.29.15 or extensionRequest)');
  return bc.pathLen === undefined ? { cA: bc.cA, ...ku } : { cA: bc.cA, pathLen: bc.pathLen, ...ku };
}

/** Extensions inside extensionRequest: keyUsage and basicConstraints are read; other critical ones are refused, non-critical ones ignored (never copied into the cert). */
function readExtensionRequest(r: DerReader, c: DerReader, value: Tlv): { ku?: KeyUsages; bc?: BasicConstraints } {
  const field = 'attributes.extensionRequest';
  if (value.tag !== TAG.SEQUENCE) c.fail(field, 'RFC 5280: Extensions is a SEQUENCE OF Extension');
  const out: { ku?: KeyUsages; bc?: BasicConstraints } = {};
  for (const e of r.children(value, field)) {
    if (e.tag !== TAG.SEQUENCE) c.fail(field, 'RFC 5280: an Extension is a SEQUENCE');
    const id = c.expect(e.contentStart, e.end, TAG.OID, field);
    let next = c.read(id.end, e.end, field);
    let critical = false;
    if (next.tag === TAG.BOOLEAN) {
      critical = c.boolean(next, field);
      next = c.read(next.end, e.end, field);
    }
    if (next.tag !== TAG.OCTET_STRING || next.end !== e.end) c.fail(field, 'RFC 5280: an Extension is { extnID, critical, extnValue OCTET STRING }');
    const isKu = c.contentEquals(id, OID_KEY_USAGE);
    const isBc = c.contentEquals(id, OID_BASIC_CONSTRAINTS);
    if (isKu || isBc) {
      const f = isKu ? FIELDS.keyUsage : FIELDS.basicConstraints;
      if ((isKu && out.ku) || (isBc && out.bc)) c.fail(f, 'RFC 5280 §4.2: an extension appears at most once');
      const inner = c.read(next.contentStart, next.end, f);
      if (inner.end !== next.end) c.fail(f, 'RFC 5280: extnValue holds exactly one DER value');
      if (isKu) out.ku = readKeyUsage(c, inner, f);
      else out.bc = readBasicConstraints(c, inner, f, false);
    } else if (critical) {
      c.fail(field, 'RFC 5280 §4.2: an unrecognised critical extension cannot be honoured');
    }
  }
  return out;
}

/**
 * keyUsage / basicConstraints: reading both the reference library's and the standard encodings,
 * the library's validation rules (docs/protocol.md#csr-capabilities), the server's issuing policy,
 * and the library's byte encoding for emission (docs/protocol.md#actor-cert-profile).
 */
import { DerReader, TAG, tlv, type Tlv } from './der';
import { fail } from './errors';

export interface Capabilities {
  cA: boolean;
  /** basicConstraints pathLenConstraint, when present. */
  pathLen?: number;
  digitalSignature: boolean;
  contentCommitment: boolean;
  keyEncipherment: boolean;
  dataEncipherment: boolean;
  keyAgreement: boolean;
  keyCertSign: boolean;
  cRLSign: boolean;
  encipherOnly: boolean;
  decipherOnly: boolean;
}

export type KeyUsageName = Exclude<keyof Capabilities, 'cA' | 'pathLen'>;
export type KeyUsages = Pick<Capabilities, KeyUsageName>;
export interface BasicConstraints {
  cA: boolean;
  pathLen?: number;
}

/** RFC 5280 bit order: bit 0 (0x80 of the first content octet) … bit 8 (0x80 of the second). */
export const KEY_USAGE_NAMES: readonly KeyUsageName[] = [
  'digitalSignature',
  'contentCommitment',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
];

export function noKeyUsages(): KeyUsages {
  return {
    digitalSignature: false,
    contentCommitment: false,
    keyEncipherment: false,
    dataEncipherment: false,
    keyAgreement: false,
    keyCertSign: false,
    cRLSign: false,
    encipherOnly: false,
    decipherOnly: false,
  };
}

/**
 * Reads a keyUsage BIT STRING. Like the reference library (docs/protocol.md#csr-capabilities), the "unused bits" octet
 * is not used to mask content bits, so both the library's encoding (`03 02 05 04`: unused = leading
 * zeros) and the standard one (`03 02 01 06`: unused = trailing zeros) read the same. Bits past
 * decipherOnly are refused.
 */
export function readKeyUsage(r: DerReader, bits: Tlv, field: string): KeyUsages {
  if (bits.tag !== TAG.BIT_STRING) r.fail(field, 'RFC 5280 §4.2.1.3: keyUsage is a BIT STRING');
  const len = bits.end - bits.contentStart;
  const b = r.buf;
  if (len === 0) r.fail(field, 'X.690: a BIT STRING has an unused-bits octet');
  const unused = b[bits.contentStart];
  if (unused > 7 || (len === 1 && unused !== 0)) r.fail(field, 'X.690: unused bits must be 0–7, and 0 for an empty BIT STRING');
  if (len > 3) r.fail(field, 'RFC 5280 §4.2.1.3: keyUsage has at most 9 bits');
  const first = len > 1 ? b[bits.contentStart + 1] : 0;
  const second = len > 2 ? b[bits.contentStart + 2] : 0;
  if (second & 0x7f) r.fail(field, 'RFC 5280 §4.2.1.3: keyUsage bits after decipherOnly are undefined');
  const usages = noKeyUsages();
  for (let i = 0; i < 8; i++) if (first & (0x80 >> i)) usages[KEY_USAGE_NAMES[i]] = true;
  if (second & 0x80) usages.decipherOnly = true;
  return usages;
}

/**
 * Reads a basicConstraints SEQUENCE { cA BOOLEAN, pathLen INTEGER OPTIONAL }. The reference
 * library's CSR attribute form requires the BOOLEAN (`requireBoolean`, docs/protocol.md#csr-capabilities); the standard
 * form omits it when FALSE. pathLen may be the library's 8-byte INTEGER, so minimal form is not
 * required.
 */
export function readBasicConstraints(r: DerReader, seq: Tlv, field: string, requireBoolean: boolean): BasicConstraints {
  if (seq.tag !== TAG.SEQUENCE) r.fail(field, 'RFC 5280 §4.2.1.9: basicConstraints is a SEQUENCE');
  const items = r.children(seq, field);
  const rule = requireBoolean
    ? 'the basicConstraints attribute holds exactly one BOOLEAN and at most one INTEGER'
    : 'RFC 5280 §4.2.1.9: basicConstraints is SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLen INTEGER OPTIONAL }';
  let i = 0;
  let cA = false;
  if (items.length > 0 && items[0].tag === TAG.BOOLEAN) {
    cA = r.boolean(items[0], field);
    i = 1;
  } else if (requireBoolean) {
    r.fail(field, rule, 'the BOOLEAN is missing');
  }
  let pathLen: number | undefined;
  if (i < items.length && items[i].tag === TAG.INTEGER) {
    pathLen = r.smallUnsigned(items[i], field, false);
    i++;
  }
  if (i < items.length) r.fail(field, rule, `unexpected element with tag 0x${items[i].tag.toString(16)}`);
  return pathLen === undefined ? { cA } : { cA, pathLen };
}

export function keyUsagesEqual(a: KeyUsages, b: KeyUsages): boolean {
  return KEY_USAGE_NAMES.every((n) => a[n] === b[n]);
}

export function basicConstraintsEqual(a: BasicConstraints, b: BasicConstraints): boolean {
  return a.cA === b.cA && a.pathLen === b.pathLen;
}

export interface CapabilityFields {
  code: string;
  keyUsage: string;
  basicConstraints: string;
}

/**
 * The reference library's constraint logic (docs/protocol.md#csr-capabilities), identical for CSRs and certificates:
 * target rules for cA, keyCertSign only with cA, a non-CA needs digitalSignature or
 * contentCommitment but not both (docs/protocol.md#key-usage-xor), encipher/decipherOnly need keyAgreement.
 */
export function checkCapabilities(caps: Capabilities, target: 'actor' | 'home-server', f: CapabilityFields): void {
  if (target === 'actor' && caps.cA) fail(f.code, f.basicConstraints, 'an actor must not be a CA (cA must be FALSE)');
  if (target === 'home-server' && !caps.cA) fail(f.code, f.basicConstraints, 'a home-server certificate must be a CA (cA TRUE)');
  if (caps.cA !== caps.keyCertSign) {
    if (caps.keyCertSign) fail(f.code, f.keyUsage, 'keyCertSign is only allowed together with cA TRUE');
    fail(f.code, f.keyUsage, 'a CA must have keyCertSign');
  }
  if (!caps.cA && !caps.digitalSignature && !caps.contentCommitment) {
    fail(f.code, f.keyUsage, 'an actor needs digitalSignature or contentCommitment');
  }
  if (caps.digitalSignature && caps.contentCommitment && !caps.cA) {
    fail(f.code, f.keyUsage, 'digitalSignature and contentCommitment together are refused');
  }
  if ((caps.encipherOnly || caps.decipherOnly) && !caps.keyAgreement) {
    fail(f.code, f.keyUsage, 'encipherOnly/decipherOnly require keyAgreement');
  }
}

/**
 * The server's stricter policy for actor certificates it signs (docs/protocol.md#csr-capabilities): exactly
 * {digitalSignature} or {contentCommitment}, cA FALSE, no pathLen. Run after {@link checkCapabilities}.
 */
export function checkActorIssuancePolicy(caps: Capabilities, f: CapabilityFields): void {
  if (caps.cA) fail(f.code, f.basicConstraints, 'an actor must not be a CA (cA must be FALSE)');
  if (caps.pathLen !== undefined) fail(f.code, f.basicConstraints, 'an actor certificate carries no pathLen');
  const set = KEY_USAGE_NAMES.filter((n) => caps[n]);
  if (set.length !== 1 || (set[0] !== 'digitalSignature' && set[0] !== 'contentCommitment')) {
    fail(f.code, f.keyUsage, 'an actor certificate carries exactly digitalSignature or contentCommitment', `requested ${set.join('+') || 'nothing'}`);
  }
}

/**
 * keyUsage BIT STRING in the reference library's encoding (docs/protocol.md#actor-cert-profile): one content octet, the
 * "unused bits" octet = number of leading zero bits of it (`03 02 00 80`, `03 02 01 40`, `03 02 00 84`).
 */
export function encodeKeyUsageLibrary(usages: KeyUsages): Buffer {
  if (usages.decipherOnly) fail('CAPABILITIES_UNSUPPORTED', 'keyUsage', 'decipherOnly cannot be emitted in the reference library encoding');
  let byte = 0;
  for (let i = 0; i < 8; i++) if (usages[KEY_USAGE_NAMES[i]]) byte |= 0x80 >> i;
  if (byte === 0) fail('CAPABILITIES_UNSUPPORTED', 'keyUsage', 'at least one key usage is emitted');
  return tlv(TAG.BIT_STRING, Uint8Array.of(Math.clz32(byte) - 24, byte));
}

/**
 * basicConstraints value with the BOOLEAN always present (`30 03 01 01 00` / `30 03 01 01 FF`, the
 * reference library's re-encoding, docs/protocol.md#root-pathlen). pathLen, when given, is a minimal DER INTEGER: the
 * library writes 8 octets, but OpenSSL 3 refuses that non-minimal INTEGER and then decodes neither
 * basicConstraints nor the certificate as a CA (docs/protocol.md#root-pathlen; checked in the
 * tests), so the strict-reader switch favours standard tools.
 */
export function encodeBasicConstraintsLibrary(cA: boolean, pathLen?: number): Buffer {
  const bool = Uint8Array.of(0x01, 0x01, cA ? 0xff : 0x00);
  if (pathLen === undefined) return tlv(TAG.SEQUENCE, bool);
  if (!Number.isInteger(pathLen) || pathLen < 0 || pathLen > 127) fail('CAPABILITIES_UNSUPPORTED', 'basicConstraints.pathLen', 'pathLen must be 0–127');
  return tlv(TAG.SEQUENCE, bool, Uint8Array.of(0x02, 0x01, pathLen));
}

/**
 * Client-side ID-CSR construction, for tests, tools and benchmarks: the reference library's
 * encoding by default (RDNs uniqueIdentifier, UID, DC=tld…, CN; UTF8String except IA5String DCs;
 * capabilities as raw attributes 2.5.29.15/2.5.29.19, docs/protocol.md#csr-names,
 * docs/protocol.md#csr-capabilities).
 */
import { encodeBasicConstraintsLibrary, encodeKeyUsageLibrary, noKeyUsages } from './capabilities';
import { TAG, tlv } from './der';
import type { Ed25519Signer } from './ed25519-keys';
import { fail } from './errors';
import { parseFederationId, type FederationId } from './federation-id';
import {
  ED25519_ALGORITHM_ID,
  ED25519_SPKI_PREFIX,
  OID_BASIC_CONSTRAINTS,
  OID_CN,
  OID_DC,
  OID_EXTENSION_REQUEST,
  OID_KEY_USAGE,
  OID_UID,
  OID_UNIQUE_IDENTIFIER,
} from './oids';
import { toPem } from './pem';
import { validateSessionId } from './session-id';

export interface BuildIdCsrOptions {
  signer: Ed25519Signer;
  federationId: FederationId | string;
  sessionId: string;
  /** Default `digitalSignature`. */
  usage?: 'digitalSignature' | 'contentCommitment';
  /** Default `library` (uniqueIdentifier, UID, DC=tld…, CN); `conventional` = DC=tld…, CN, UID, uniqueIdentifier. */
  nameOrder?: 'library' | 'conventional';
  /** Default `attributes` (reference library); `extensionRequest` is what OpenSSL writes; `both`. */
  capabilityEncoding?: 'attributes' | 'extensionRequest' | 'both';
}

function atv(oid: Uint8Array, tag: number, value: string): Buffer {
  return tlv(TAG.SET, tlv(TAG.SEQUENCE, tlv(TAG.OID, oid), tlv(tag, Buffer.from(value, 'utf8'))));
}

/** Builds and signs an actor ID-CSR. Returns DER and PEM. */
export function buildIdCsr(o: BuildIdCsrOptions): { der: Uint8Array; pem: string } {
  if (!o || !o.signer || typeof o.signer.sign !== 'function' || !(o.signer.publicKey instanceof Uint8Array) || o.signer.publicKey.length !== 32) {
    fail('CSR_ARGUMENT_INVALID', 'signer', 'an Ed25519Signer is required');
  }
  const fid = parseFederationId(String(o.federationId));
  const sessionId = validateSessionId(o.sessionId);
  const dcs = fid.domain.split('.').reverse().map((l) => atv(OID_DC, TAG.IA5_STRING, l));
  const cn = atv(OID_CN, TAG.UTF8_STRING, fid.localName);
  const uid = atv(OID_UID, TAG.UTF8_STRING, fid.toString());
  const sid = atv(OID_UNIQUE_IDENTIFIER, TAG.UTF8_STRING, sessionId);
  const rdns = (o.nameOrder ?? 'library') === 'library' ? [sid, uid, ...dcs, cn] : [...dcs, cn, uid, sid];
  const usage = o.usage ?? 'digitalSignature';
  if (usage !== 'digitalSignature' && usage !== 'contentCommitment') fail('CSR_ARGUMENT_INVALID', 'usage', 'digitalSignature or contentCommitment');
  const ku = encodeKeyUsageLibrary({ ...noKeyUsages(), [usage]: true });
  const bc = encodeBasicConstraintsLibrary(false);
  const encoding = o.capabilityEncoding ?? 'attributes';
  const attrs: Buffer[] = [];
  if (encoding !== 'extensionRequest') {
    attrs.push(tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_KEY_USAGE), tlv(TAG.SET, ku)));
    attrs.push(tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_BASIC_CONSTRAINTS), tlv(TAG.SET, bc)));
  }
  if (encoding !== 'attributes') {
    const critical = Uint8Array.of(0x01, 0x01, 0xff);
    const exts = tlv(
      TAG.SEQUENCE,
      tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_KEY_USAGE), critical, tlv(TAG.OCTET_STRING, ku)),
      tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_BASIC_CONSTRAINTS), critical, tlv(TAG.OCTET_STRING, bc)),
    );
    attrs.push(tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_EXTENSION_REQUEST), tlv(TAG.SET, exts)));
  }
  const info = tlv(
    TAG.SEQUENCE,
    Uint8Array.of(0x02, 0x01, 0x00),
    tlv(TAG.SEQUENCE, ...rdns),
    ED25519_SPKI_PREFIX,
    o.signer.publicKey,
    tlv(0xa0, ...attrs),
  );
  const signature = o.signer.sign(info);
  const der = tlv(TAG.SEQUENCE, info, ED25519_ALGORITHM_ID, tlv(TAG.BIT_STRING, Uint8Array.of(0), signature));
  return { der, pem: toPem(der, 'CERTIFICATE REQUEST') };
}

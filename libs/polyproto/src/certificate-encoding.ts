/**
 * Shared certificate assembly in the byte-exact profile of docs/protocol.md#actor-cert-profile: v3, minimal positive
 * serial, Ed25519 AlgorithmIdentifier without parameters, issuer/subject copied as given, validity
 * UTCTime (< 2050) else GeneralizedTime, Ed25519 SPKI, extensions [3] = basicConstraints then
 * keyUsage, both critical. The TBS is written directly (not through @peculiar/x509's generator:
 * it re-encodes extensions the standard way and ran at ~400/s, see der.ts).
 */
import { encodeUnsignedInteger, TAG, tlv } from './der';
import type { Ed25519Signer } from './ed25519-keys';
import { fail } from './errors';
import { ED25519_ALGORITHM_ID, ED25519_SPKI_PREFIX, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE } from './oids';
import { toPem } from './pem';
import { encodeTime } from './time';

/** What issuing returns. */
export interface IssuedCert {
  readonly der: Uint8Array;
  readonly pem: string;
  readonly serial: bigint;
  /** As written into the certificate (whole seconds). */
  readonly notBefore: Date;
  /** As written into the certificate (whole seconds). */
  readonly notAfter: Date;
}

const VERSION_V3 = Buffer.from('a003020102', 'hex');
const CRITICAL = Uint8Array.of(0x01, 0x01, 0xff);
const BIT_STRING_NO_UNUSED = Uint8Array.of(0x00);

/** `[3] { SEQUENCE { basicConstraints (critical), keyUsage (critical) } }` from the two encoded values. */
export function encodeExtensions(basicConstraintsValue: Uint8Array, keyUsageValue: Uint8Array): Buffer {
  return tlv(
    0xa3,
    tlv(
      TAG.SEQUENCE,
      tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_BASIC_CONSTRAINTS), CRITICAL, tlv(TAG.OCTET_STRING, basicConstraintsValue)),
      tlv(TAG.SEQUENCE, tlv(TAG.OID, OID_KEY_USAGE), CRITICAL, tlv(TAG.OCTET_STRING, keyUsageValue)),
    ),
  );
}

export interface CertificateParts {
  serial: bigint;
  issuerDer: Uint8Array;
  subjectDer: Uint8Array;
  notBefore: Date;
  notAfter: Date;
  publicKey: Uint8Array;
  /** Pre-encoded `[3]` extensions. */
  extensions: Uint8Array;
  signer: Ed25519Signer;
}

/** Writes the TBSCertificate, signs it and wraps it into a Certificate. Arguments must be pre-validated. */
export function assembleCertificate(p: CertificateParts): IssuedCert {
  const tbs = tlv(
    TAG.SEQUENCE,
    VERSION_V3,
    encodeUnsignedInteger(p.serial),
    ED25519_ALGORITHM_ID,
    p.issuerDer,
    tlv(TAG.SEQUENCE, encodeTime(p.notBefore), encodeTime(p.notAfter)),
    p.subjectDer,
    ED25519_SPKI_PREFIX,
    p.publicKey,
    p.extensions,
  );
  const signature = p.signer.sign(tbs);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    fail('SIGNER_INVALID', 'signer', 'the signer must return a 64-byte Ed25519 signature');
  }
  const der = tlv(TAG.SEQUENCE, tbs, ED25519_ALGORITHM_ID, tlv(TAG.BIT_STRING, BIT_STRING_NO_UNUSED, signature));
  return Object.freeze({ der, pem: toPem(der, 'CERTIFICATE'), serial: p.serial, notBefore: p.notBefore, notAfter: p.notAfter });
}

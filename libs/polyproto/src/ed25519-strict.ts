/**
 * Strict Ed25519 verification (docs/protocol.md#ed25519) at node:crypto speed.
 *
 * Node's `crypto.verify` (OpenSSL 3.0) is cofactorless and checks S < L, but it accepts small-order
 * public keys: with A = identity and the signature (R = identity, S = 0) it returns true for any
 * message. `@noble/curves` with `zip215: false` refuses that, but costs ~10× more per call. So the
 * strictness checks are done here on the encodings (cheap byte comparisons), then OpenSSL does the
 * group equation:
 *   - exact lengths: 32-byte key, 64-byte signature;
 *   - A and R canonical (y < p, and no "negative zero" x for the x = 0 points);
 *   - A and R not of small order (the 8 torsion points, listed below and cross-checked against
 *     noble's ED25519_TORSION_SUBGROUP in the tests);
 *   - S < L.
 * Rejecting small-order R is stricter than noble (which checks only A) and than RFC 8032; an honest
 * signer never produces one (R = rB with r from a hash).
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';

/** Canonical encodings of the 8 points of order dividing 8, plus the two x = 0 points with the sign bit set. */
export const SMALL_ORDER_ENCODINGS: readonly string[] = [
  '0100000000000000000000000000000000000000000000000000000000000000', // identity (order 1)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // (0, -1), order 2
  '0000000000000000000000000000000000000000000000000000000000000000', // (sqrt(-1), 0), order 4
  '0000000000000000000000000000000000000000000000000000000000000080', // (-sqrt(-1), 0), order 4
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa', // order 8
  '0100000000000000000000000000000000000000000000000000000000000080', // identity, x sign bit set (invalid)
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', // (0, -1), x sign bit set (invalid)
];
const SMALL_ORDER = SMALL_ORDER_ENCODINGS.map((hex) => Buffer.from(hex, 'hex'));

/** The group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L_LE = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

function equalsAt(buf: Uint8Array, offset: number, expected: Uint8Array): boolean {
  for (let i = 0; i < 32; i++) if (buf[offset + i] !== expected[i]) return false;
  return true;
}

/** True when the 32 bytes at `offset` encode y < p = 2^255 − 19 (the sign bit is ignored). */
export function isCanonicalPointEncoding(buf: Uint8Array, offset = 0): boolean {
  if ((buf[offset + 31] & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (buf[offset + i] !== 0xff) return true;
  return buf[offset] < 0xed;
}

/** True when the 32 bytes at `offset` encode a point of order 1, 2, 4 or 8. */
export function isSmallOrderEncoding(buf: Uint8Array, offset = 0): boolean {
  for (const enc of SMALL_ORDER) if (equalsAt(buf, offset, enc)) return true;
  return false;
}

/** True when the 32 little-endian bytes at `offset` are a scalar below L. */
export function isCanonicalScalar(buf: Uint8Array, offset = 0): boolean {
  for (let i = 31; i >= 0; i--) {
    const a = buf[offset + i];
    const b = L_LE[i];
    if (a !== b) return a < b;
  }
  return false;
}

/** Why a raw public key is unusable, or undefined when it passes the strict checks. */
export function ed25519PublicKeyProblem(publicKey: Uint8Array): 'length' | 'non-canonical' | 'small-order' | undefined {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) return 'length';
  if (!isCanonicalPointEncoding(publicKey)) return 'non-canonical';
  if (isSmallOrderEncoding(publicKey)) return 'small-order';
  return undefined;
}

/** Imports a raw Ed25519 public key (no validation). JWK import costs ~5 µs, SPKI DER ~80 µs. */
export function ed25519PublicKeyObject(publicKey: Uint8Array): KeyObject {
  const x = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length).toString('base64url');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x }, format: 'jwk' });
}

/**
 * Strict Ed25519 verification (see the file comment). Never throws; any malformed input is
 * simply `false`.
 */
export function ed25519VerifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== 64) return false;
  if (ed25519PublicKeyProblem(publicKey) !== undefined) return false;
  if (!isCanonicalPointEncoding(signature, 0) || isSmallOrderEncoding(signature, 0)) return false;
  if (!isCanonicalScalar(signature, 32)) return false;
  try {
    return verify(null, message, ed25519PublicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

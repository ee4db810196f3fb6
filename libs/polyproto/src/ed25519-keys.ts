import { createPrivateKey, createPublicKey, KeyObject, sign } from 'node:crypto';
import { fail } from './errors';
import { ED25519_SPKI_PREFIX } from './oids';

/** Something that signs with an Ed25519 key, synchronously. The key itself stays inside. */
export interface Ed25519Signer {
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** The 64-byte Ed25519 signature of `data`. */
  sign(data: Uint8Array): Uint8Array;
}

const KEY_RULE = 'Ed25519 keys only (OID 1.3.101.112)';
/** PKCS#8 PrivateKeyInfo prefix for a 32-byte Ed25519 seed (RFC 8410). */
const PKCS8_SEED_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** The raw 32-byte public key of an Ed25519 KeyObject (public or private). */
export function rawEd25519PublicKey(key: KeyObject): Uint8Array {
  if (!(key instanceof KeyObject) || key.asymmetricKeyType !== 'ed25519') fail('KEY_INVALID', 'key', KEY_RULE);
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const { x } = pub.export({ format: 'jwk' });
  return Buffer.from(x as string, 'base64url');
}

/** A signer over an Ed25519 private KeyObject, using node:crypto `sign(null, …)`. */
export function ed25519SignerFromPrivateKey(key: KeyObject): Ed25519Signer {
  if (!(key instanceof KeyObject) || key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') fail('KEY_INVALID', 'key', `${KEY_RULE}; a private key is required`);
  const publicKey = rawEd25519PublicKey(key);
  return { publicKey, sign: (data: Uint8Array) => sign(null, data, key) };
}

/** The Ed25519 private KeyObject whose RFC 8032 seed is `seed` (32 bytes). Handy for known-answer tests. */
export function ed25519PrivateKeyFromSeed(seed: Uint8Array): KeyObject {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) fail('KEY_INVALID', 'seed', 'RFC 8032: an Ed25519 seed is 32 bytes');
  return createPrivateKey({ key: Buffer.concat([PKCS8_SEED_PREFIX, seed]), format: 'der', type: 'pkcs8' });
}

/** SubjectPublicKeyInfo DER of a raw 32-byte Ed25519 key (for `GET /key/server` as PEM "PUBLIC KEY"). */
export function spkiDerFromRawEd25519(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) fail('KEY_INVALID', 'publicKey', 'RFC 8410: an Ed25519 public key is 32 bytes');
  return Buffer.concat([ED25519_SPKI_PREFIX, publicKey]);
}

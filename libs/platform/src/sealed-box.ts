import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';

/**
 * Sealed boxes for credentials on their way to the certstore (docs/architecture.md#sealed-credentials):
 * X25519 with an ephemeral sender key, HKDF-SHA256, AES-256-GCM. Anyone with the certstore's public
 * key can seal; only the certstore, whose private key is derived from P2_KEY_ENCRYPTION_KEY, can open.
 * Format: `sealed1.<key id>.<ephemeral public key>.<iv>.<tag>.<ciphertext>` (base64url); the
 * associated data binds a box to its purpose (e.g. the actor it belongs to).
 */
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export class SealedBoxError extends Error {
  readonly code = 'SEALED_BOX_INVALID';
  constructor(reason: string) {
    super(`The sealed credential cannot be opened: ${reason}.`);
    this.name = 'SealedBoxError';
  }
}

/** The certstore's credential key pair, derived from the key-encryption key so that every
 * certstore of a cluster holds the same one without storing it. */
export function credentialKeyPair(keyEncryptionKey: Buffer): { readonly privateKey: KeyObject; readonly publicKey: string } {
  const seed = Buffer.from(hkdfSync('sha256', keyEncryptionKey, Buffer.alloc(0), 'p2-credential-seal-v1', 32));
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const raw = (createPublicKey(privateKey).export({ format: 'der', type: 'spki' }) as Buffer).subarray(X25519_SPKI_PREFIX.length);
  return { privateKey, publicKey: raw.toString('base64url') };
}

const keyId = (publicKey: Buffer): string => createHash('sha256').update(publicKey).digest().subarray(0, 8).toString('base64url');

function boxKey(shared: Buffer, ephemeral: Buffer, recipient: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeral, recipient]), 'p2-sealed-box-v1', 32));
}

/** Seals `plaintext` for the holder of `recipientPublicKey` (raw X25519, base64url). */
export function seal(recipientPublicKey: string, plaintext: string, associatedData: string): string {
  const recipient = Buffer.from(recipientPublicKey, 'base64url');
  if (recipient.length !== 32) throw new SealedBoxError('the recipient key is not an X25519 public key');
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralRaw = (ephemeral.publicKey.export({ format: 'der', type: 'spki' }) as Buffer).subarray(X25519_SPKI_PREFIX.length);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, recipient]), format: 'der', type: 'spki' }) });
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', boxKey(shared, ephemeralRaw, recipient), iv);
  cipher.setAAD(Buffer.from(associatedData));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['sealed1', keyId(recipient), ...[ephemeralRaw, iv, cipher.getAuthTag(), ciphertext].map((b) => b.toString('base64url'))].join('.');
}

/** Opens a box sealed for `keyPair`; throws {@link SealedBoxError} when it is not one, was sealed for
 * another key, was altered or belongs to other associated data. */
export function openSealed(keyPair: { readonly privateKey: KeyObject; readonly publicKey: string }, sealed: string, associatedData: string): string {
  const [version, kid, epk, iv, tag, ciphertext, extra] = sealed.split('.');
  if (version !== 'sealed1' || !kid || !epk || !iv || !tag || ciphertext === undefined || extra !== undefined) throw new SealedBoxError('not a sealed box');
  const recipient = Buffer.from(keyPair.publicKey, 'base64url');
  if (kid !== keyId(recipient)) throw new SealedBoxError('it was sealed for another key (P2_KEY_ENCRYPTION_KEY differs)');
  try {
    const ephemeralRaw = Buffer.from(epk, 'base64url');
    const shared = diffieHellman({ privateKey: keyPair.privateKey, publicKey: createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, ephemeralRaw]), format: 'der', type: 'spki' }) });
    const decipher = createDecipheriv('aes-256-gcm', boxKey(shared, ephemeralRaw, recipient), Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(associatedData));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    throw new SealedBoxError('it was altered or belongs to something else');
  }
}

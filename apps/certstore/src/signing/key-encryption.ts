import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** AES-256-GCM envelope for the server's private key at rest: `v1.<iv>.<tag>.<ciphertext>` (base64url).
 * The associated data binds the ciphertext to the key's serial, so rows cannot be swapped. */
export function encryptPrivateKey(kek: Buffer, pkcs8Der: Buffer, serial: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(`p2-server-key:${serial}`));
  const ciphertext = Buffer.concat([cipher.update(pkcs8Der), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export class KeyDecryptionError extends Error {
  readonly code = 'SERVER_KEY_DECRYPTION_FAILED';
  constructor(serial: string) {
    super(`The private key of root ${serial} cannot be decrypted: P2_KEY_ENCRYPTION_KEY is not the key it was stored with.`);
    this.name = 'KeyDecryptionError';
  }
}

export function decryptPrivateKey(kek: Buffer, sealed: string, serial: string): Buffer {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new KeyDecryptionError(serial);
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(`p2-server-key:${serial}`));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  } catch {
    throw new KeyDecryptionError(serial);
  }
}

import { randomBytes } from 'node:crypto';
import { credentialKeyPair, openSealed, seal, SealedBoxError } from '../src/sealed-box';

describe('sealed boxes for credentials (docs/architecture.md#sealed-credentials)', () => {
  const kek = randomBytes(32);
  const keys = credentialKeyPair(kek);
  const hash = 'scrypt$131072$8$1$c2FsdA==$aGFzaA==';

  it('derives one key pair per key-encryption key', () => {
    expect(credentialKeyPair(kek).publicKey).toBe(keys.publicKey);
    expect(credentialKeyPair(randomBytes(32)).publicKey).not.toBe(keys.publicKey);
    expect(Buffer.from(keys.publicKey, 'base64url')).toHaveLength(32);
  });

  it('opens what was sealed for it, and the box shows nothing of the plaintext; each box differs', () => {
    const box = seal(keys.publicKey, hash, 'p2-password-hash:a@example.com');
    expect(box).toMatch(/^sealed1\./);
    expect(box).not.toContain('scrypt');
    expect(box).not.toContain('c2FsdA');
    expect(seal(keys.publicKey, hash, 'p2-password-hash:a@example.com')).not.toBe(box);
    expect(openSealed(keys, box, 'p2-password-hash:a@example.com')).toBe(hash);
  });

  it('refuses a box for other associated data, for another key, altered, or not a box', () => {
    const box = seal(keys.publicKey, hash, 'p2-password-hash:a@example.com');
    expect(() => openSealed(keys, box, 'p2-password-hash:b@example.com')).toThrow(SealedBoxError);
    expect(() => openSealed(credentialKeyPair(randomBytes(32)), box, 'p2-password-hash:a@example.com')).toThrow(SealedBoxError);
    const parts = box.split('.');
    const ciphertext = Buffer.from(parts[5]!, 'base64url');
    ciphertext[0]! ^= 1;
    parts[5] = ciphertext.toString('base64url');
    expect(() => openSealed(keys, parts.join('.'), 'p2-password-hash:a@example.com')).toThrow(SealedBoxError);
    expect(() => openSealed(keys, hash, 'p2-password-hash:a@example.com')).toThrow(SealedBoxError);
  });
});

import { randomBytes, scryptSync } from 'node:crypto';
import { hashPassword, needsRehash, PASSWORD_SCRYPT_COST, verifyPassword } from '../src/auth/password-hasher';

/** The format an earlier release stored: scrypt N = 2^14, r = 8, p = 1. */
function legacyHash(password: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(password.normalize('NFC'), salt, 32, { N: 16384, r: 8, p: 1 });
  return ['scrypt', 16384, 8, 1, salt.toString('base64'), hash.toString('base64')].join('$');
}

describe('password hashing (docs/architecture.md#password-hashing)', () => {
  const password = 'correct horse battery staple';
  let current: string;

  beforeAll(async () => {
    current = await hashPassword(password);
  });

  it('hashes new passwords with scrypt N = 2^17, r = 8, p = 1 and a 16-byte salt', () => {
    expect(PASSWORD_SCRYPT_COST).toBe(17);
    const [scheme, n, r, p, salt, hash] = current.split('$');
    expect([scheme, n, r, p]).toEqual(['scrypt', '131072', '8', '1']);
    expect(Buffer.from(salt!, 'base64')).toHaveLength(16);
    expect(Buffer.from(hash!, 'base64')).toHaveLength(32);
  });

  it('verifies a current hash and an old N = 2^14 one, and refuses the wrong password with both', async () => {
    const old = legacyHash(password);
    expect(await verifyPassword(password, current)).toBe(true);
    expect(await verifyPassword(password, old)).toBe(true);
    expect(await verifyPassword('wrong password', current)).toBe(false);
    expect(await verifyPassword('wrong password', old)).toBe(false);
    expect(await verifyPassword(password, undefined)).toBe(false);
  });

  it('asks for a rehash of weaker hashes only', () => {
    expect(needsRehash(legacyHash(password))).toBe(true);
    expect(needsRehash(current)).toBe(false);
    expect(needsRehash(current, 18)).toBe(true);
  });

  it('refuses stored hashes it cannot trust to be cheap enough or well-formed, without running them', async () => {
    const [, , , , salt, hash] = current.split('$');
    for (const stored of [`scrypt$${2 ** 22}$8$1$${salt}$${hash}`, `scrypt$1000$8$1$${salt}$${hash}`, `bcrypt$x`, `scrypt$131072$8$1$${salt}$`, `${current}$extra`]) {
      expect(await verifyPassword(password, stored)).toBe(false);
      expect(needsRehash(stored)).toBe(false);
    }
  });
});

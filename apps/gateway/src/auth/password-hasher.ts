import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** scrypt from node:crypto: memory-hard, parameters stored with each hash so they can be raised
 * later without breaking old hashes (docs/architecture.md#password-hashing).
 * Format: `scrypt$<N>$<r>$<p>$<salt b64>$<hash b64>`. */
export const PASSWORD_SCRYPT_COST = 17;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
/** Stored parameters are read back from the table; bounds keep a corrupt row from asking for gigabytes. */
const MAX_STORED_LOG2_N = 20;

function scryptAsync(password: string, salt: Buffer, keylen: number, options: Required<Pick<ScryptOptions, 'N' | 'r' | 'p'>>): Promise<Buffer> {
  // node refuses scrypt above maxmem (32 MiB by default); N=2^17, r=8 needs 128·N·r = 128 MiB, and twice that leaves headroom
  const maxmem = 128 * options.N * options.r * options.p * 2;
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, keylen, { ...options, maxmem }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** A new hash with N = 2^cost, r = 8, p = 1 (cost: `P2_PASSWORD_SCRYPT_COST`, 17 unless lowered outside production). */
export async function hashPassword(password: string, cost: number = PASSWORD_SCRYPT_COST): Promise<string> {
  const salt = randomBytes(16);
  const N = 2 ** cost;
  const hash = await scryptAsync(password, salt, KEY_LENGTH, { N, r: R, p: P });
  return ['scrypt', N, R, P, salt.toString('base64'), hash.toString('base64')].join('$');
}

interface StoredHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

function parseStored(encoded: string): StoredHash | undefined {
  const [scheme, n, r, p, salt, hash, extra] = encoded.split('$');
  if (scheme !== 'scrypt' || !salt || !hash || extra !== undefined) return undefined;
  const N = Number(n);
  const parsed = { N, r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  const powerOfTwo = Number.isInteger(N) && N > 1 && (N & (N - 1)) === 0 && N <= 2 ** MAX_STORED_LOG2_N;
  if (!powerOfTwo || !Number.isInteger(parsed.r) || parsed.r < 1 || parsed.r > 32 || !Number.isInteger(parsed.p) || parsed.p < 1 || parsed.p > 16 || parsed.hash.length === 0) {
    return undefined;
  }
  return parsed;
}

/** A hash of nothing, verified against when the actor does not exist, so that the answer takes as
 * long for unknown actors as for wrong passwords. One per cost. */
const dummyHashes = new Map<number, Promise<string>>();

function dummyHash(cost: number): Promise<string> {
  let hash = dummyHashes.get(cost);
  if (!hash) dummyHashes.set(cost, (hash = hashPassword(randomBytes(16).toString('hex'), cost)));
  return hash;
}

export async function verifyPassword(password: string, stored: string | undefined, cost: number = PASSWORD_SCRYPT_COST): Promise<boolean> {
  const parsed = parseStored(stored ?? (await dummyHash(cost)));
  if (!parsed) return false;
  const actual = await scryptAsync(password, parsed.salt, parsed.hash.length, { N: parsed.N, r: parsed.r, p: parsed.p });
  return timingSafeEqual(actual, parsed.hash) && stored !== undefined;
}

/** Whether a stored hash was made with weaker parameters than today's: it is replaced at the
 * actor's next successful login (docs/architecture.md#password-hashing). */
export function needsRehash(stored: string, cost: number = PASSWORD_SCRYPT_COST): boolean {
  const parsed = parseStored(stored);
  return parsed !== undefined && (parsed.N < 2 ** cost || parsed.r < R);
}

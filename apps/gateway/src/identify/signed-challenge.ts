import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ChallengeTerms } from '@p2/domain';

/*
 * A challenge states its own terms under the gateways' key (P2_CHALLENGE_KEY), so that GET
 * /challenge writes nothing (docs/protocol.md#challenge-strings). Its bytes:
 *
 *   version 1 ‖ nonce 8 ‖ expires 5 (UNIX s, big-endian) ‖ flags 1 ‖ actor tag 8 ‖ session tag 8 ‖ HMAC-SHA256 truncated to 16
 *
 * written in base 62 ([0-9A-Za-z], the alphabet the protocol allows) with a fixed length of 64
 * characters, the length the profile fixes: 64 base-62 digits hold 47 bytes and no more, which is
 * what sets every field's size. A tag is the first 8 bytes of SHA-256 over the bound federation ID
 * or session ID (zeros when unbound, with its flag clear): the MAC covers the tags, so moving a
 * challenge to another actor needs a second preimage of a 64-bit tag. Tags rather than names keep
 * the length fixed whatever the name. A 64-bit nonce never repeats within one expiry second in
 * practice, and a 128-bit MAC cannot be guessed in the few minutes a challenge lives.
 */

const VERSION = 2;
const NONCE_BYTES = 8;
const EXPIRES_BYTES = 5;
const TAG_BYTES = 8;
const MAC_BYTES = 16;
const FLAGS_AT = 1 + NONCE_BYTES + EXPIRES_BYTES;
const ACTOR_TAG_AT = FLAGS_AT + 1;
const SESSION_TAG_AT = ACTOR_TAG_AT + TAG_BYTES;
const SIGNED_BYTES = SESSION_TAG_AT + TAG_BYTES;
const TOTAL_BYTES = SIGNED_BYTES + MAC_BYTES;
const BOUND_ACTOR = 1;
const BOUND_SESSION = 2;
const MAC_CONTEXT = Buffer.from('p2-challenge-v2\n');
/** The last second 5 bytes hold (year 36812): `expires` must not be later. */
const MAX_EXPIRES = 2 ** (8 * EXPIRES_BYTES) - 1;

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const BASE = BigInt(ALPHABET.length);

/** Length of every challenge this server hands out: base 62 of 47 bytes, 64 characters (the profile fixes 64; the protocol allows 32 to 256). */
export const CHALLENGE_LENGTH = Math.ceil((TOTAL_BYTES * 8) / Math.log2(ALPHABET.length));

const LARGEST = 1n << BigInt(TOTAL_BYTES * 8);

/** What a challenge of any server can look like (docs/protocol.md#challenge-strings); anything else is certainly not one of ours. */
export function isChallengeShaped(value: string): boolean {
  return /^[A-Za-z0-9]{32,256}$/.test(value);
}

export interface ChallengeBinding {
  readonly boundFederationId?: string;
  readonly boundSessionId?: string;
}

/** Issues and reads the signed challenges of this cluster's gateways; every gateway of a cluster holds the same key. */
export class ChallengeSigner {
  constructor(private readonly key: Buffer) {}

  /** A new challenge, accepted up to and including `expires` (UNIX seconds), bound as asked. It is
   * redrawn in the (practically never seen) case that it lacks a lowercase letter, an uppercase letter
   * or a digit, which the protocol recommends for public servers. */
  issue(expires: number, binding: ChallengeBinding = {}): string {
    if (!Number.isSafeInteger(expires) || expires < 0 || expires > MAX_EXPIRES) throw new RangeError(`expires ${expires} does not fit the challenge`);
    for (;;) {
      const bytes = Buffer.alloc(TOTAL_BYTES);
      bytes[0] = VERSION;
      randomBytes(NONCE_BYTES).copy(bytes, 1);
      bytes.writeUIntBE(expires, 1 + NONCE_BYTES, EXPIRES_BYTES);
      let flags = 0;
      if (binding.boundFederationId !== undefined) {
        flags |= BOUND_ACTOR;
        tag('actor', binding.boundFederationId).copy(bytes, ACTOR_TAG_AT);
      }
      if (binding.boundSessionId !== undefined) {
        flags |= BOUND_SESSION;
        tag('session', binding.boundSessionId).copy(bytes, SESSION_TAG_AT);
      }
      bytes[FLAGS_AT] = flags;
      this.mac(bytes.subarray(0, SIGNED_BYTES)).copy(bytes, SIGNED_BYTES);
      const text = toBase62(bytes);
      if (/[a-z]/.test(text) && /[A-Z]/.test(text) && /[0-9]/.test(text)) return text;
    }
  }

  /** The terms of a challenge this cluster issued, as they apply to `attempt`; undefined for
   * anything it did not issue (malformed, another key, altered in any character). The MAC is compared in
   * constant time. */
  read(value: string, attempt: { readonly federationId: string; readonly sessionId: string }): ChallengeTerms | undefined {
    const bytes = fromBase62(value);
    if (!bytes || bytes[0] !== VERSION) return undefined;
    const expected = this.mac(bytes.subarray(0, SIGNED_BYTES));
    if (!timingSafeEqual(expected, bytes.subarray(SIGNED_BYTES))) return undefined;
    const flags = bytes[FLAGS_AT]!;
    const actorTag = bytes.subarray(ACTOR_TAG_AT, ACTOR_TAG_AT + TAG_BYTES);
    const sessionTag = bytes.subarray(SESSION_TAG_AT, SESSION_TAG_AT + TAG_BYTES);
    return {
      expires: bytes.readUIntBE(1 + NONCE_BYTES, EXPIRES_BYTES),
      actor: flags & BOUND_ACTOR ? (tag('actor', attempt.federationId).equals(actorTag) ? 'this' : 'another') : 'unbound',
      session: flags & BOUND_SESSION ? (tag('session', attempt.sessionId).equals(sessionTag) ? 'this' : 'another') : 'unbound',
    };
  }

  private mac(signed: Buffer): Buffer {
    return createHmac('sha256', this.key).update(MAC_CONTEXT).update(signed).digest().subarray(0, MAC_BYTES);
  }
}

function tag(kind: 'actor' | 'session', name: string): Buffer {
  return createHash('sha256').update(`p2-challenge-${kind}\n${name}`).digest().subarray(0, TAG_BYTES);
}

function toBase62(bytes: Buffer): string {
  let n = BigInt(`0x${bytes.toString('hex')}`);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % BASE)]! + out;
    n /= BASE;
  }
  return out.padStart(CHALLENGE_LENGTH, ALPHABET[0]);
}

function fromBase62(text: string): Buffer | undefined {
  if (text.length !== CHALLENGE_LENGTH) return undefined;
  let n = 0n;
  for (const ch of text) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return undefined;
    n = n * BASE + BigInt(digit);
  }
  // 64 base-62 digits hold a little more than 47 bytes: a larger value is no encoding of ours
  if (n >= LARGEST) return undefined;
  return Buffer.from(n.toString(16).padStart(TOTAL_BYTES * 2, '0'), 'hex');
}

import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Bytes from 248 = 4 · 62 up are dropped, so `byte % 62` is uniform over the alphabet. */
const UNBIASED_LIMIT = 248;

/** Length of every challenge this server hands out (docs/protocol.md#challenge-strings: at least 64 for public servers). */
export const CHALLENGE_LENGTH = 64;

/**
 * A challenge string (docs/protocol.md#challenge-strings): 64 characters drawn uniformly from [A-Za-z0-9] with node:crypto's
 * CSPRNG, redrawn until it holds at least one lowercase letter, one uppercase letter and one digit.
 * A redraw is rare: about once in 80 000 strings, nearly always for lack of a digit.
 */
export function randomChallenge(): string {
  for (;;) {
    let out = '';
    while (out.length < CHALLENGE_LENGTH) {
      for (const byte of randomBytes(96)) {
        if (byte < UNBIASED_LIMIT && out.length < CHALLENGE_LENGTH) out += ALPHABET[byte % ALPHABET.length];
      }
    }
    if (/[a-z]/.test(out) && /[A-Z]/.test(out) && /[0-9]/.test(out)) return out;
  }
}

/** What a challenge of this server can look like; anything else is certainly not one of ours. */
export function isChallengeShaped(value: string): boolean {
  return /^[A-Za-z0-9]{32,256}$/.test(value);
}

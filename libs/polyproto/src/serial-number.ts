import { randomBytes } from 'node:crypto';
import { fail } from './errors';

/** Largest serial this server issues (docs/protocol.md#serials): fits u64, u128 and a JS number exactly. */
export const MAX_ISSUED_SERIAL = 2n ** 53n - 1n;

/** A serial uniformly distributed in [1, 2^53−1] (docs/protocol.md#serials). Uniqueness is the caller's job. */
export function randomSerial(): bigint {
  for (;;) {
    const b = randomBytes(7);
    b[0] &= 0x1f; // keep 53 bits
    const value = BigInt(`0x${b.toString('hex')}`);
    if (value !== 0n) return value;
  }
}

/** Serials are positive integers of at most 20 content octets in DER (RFC 5280 §4.1.2.2), i.e.
 * below 2^159: the one bound every serial check uses (docs/protocol.md#serials). */
export const SERIAL_LIMIT = 2n ** 159n;

/** Decimal text that may be a serial (leading zeros allowed); 2^159 has 48 digits, so the length
 * bound only keeps absurd input from being parsed. The one textual form of a serial in requests. */
export const SERIAL_DECIMAL = /^\d{1,60}$/;

/** Whether `serial` lies in 1 ≤ serial < 2^159. */
export function isSerialInRange(serial: bigint): boolean {
  return serial >= 1n && serial < SERIAL_LIMIT;
}

/** Whether `text` is a serial in canonical decimal form (no sign, no leading zero, in range), as
 * commands, events and answers carry it. */
export function isCanonicalSerial(text: unknown): text is string {
  return typeof text === 'string' && SERIAL_DECIMAL.test(text) && BigInt(text).toString() === text && isSerialInRange(BigInt(text));
}

/**
 * Checks a serial we are about to put into a certificate: positive and at most 20 content octets
 * in DER (RFC 5280 §4.1.2.2), i.e. 1 ≤ serial < 2^159. Throws `SERIAL_INVALID`.
 */
export function assertIssuableSerial(serial: bigint, field = 'serial'): void {
  if (typeof serial !== 'bigint' || !isSerialInRange(serial)) {
    fail('SERIAL_INVALID', field, 'a serial is a positive integer of at most 20 DER octets');
  }
}

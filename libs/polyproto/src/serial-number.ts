import { randomBytes } from 'node:crypto';
import { fail } from './errors';

/** Largest serial this server issues (docs/protocol.md#serials): the largest u64, so a serial fits
 * the 2025 API's uint64, polyproto-rs's u128 and the `numeric(20)` columns. */
export const MAX_ISSUED_SERIAL = 2n ** 64n - 1n;

/** A serial uniformly distributed in [1, 2^64−1]: 64 bits from the CSPRNG, zero drawn again
 * (docs/protocol.md#serials). Its DER INTEGER is minimal and positive: 8 content octets or fewer,
 * or 9 with one leading 0x00 when the top bit is set. Uniqueness is the caller's job. */
export function randomSerial(): bigint {
  for (;;) {
    const value = randomBytes(8).readBigUInt64BE(0);
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

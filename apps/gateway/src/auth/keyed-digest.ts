import { createHmac } from 'node:crypto';

/** HMAC-SHA256 under P2_TOKEN_KEY of a label and fields, one per line. Session tokens and command IDs
 * are both made from the same key and an Idempotency-Key; the label (versioned) keeps them apart, so
 * no token is ever the command ID of the request that made it, or of any other. */
export function keyedDigest(key: Buffer, label: string, ...fields: readonly string[]): Buffer {
  return createHmac('sha256', key).update([label, ...fields].join('\n')).digest();
}

import { badRequest } from '../http/api-error';
import type { Fields } from '../http/request-fields';

export interface CompletedChallenge {
  readonly challenge: string;
  /** the 64 signature bytes */
  readonly signature: Uint8Array;
}

/**
 * The completed challenge of an identify body, in every form docs/protocol.md#identify accepts:
 * `{"completed_challenge": {challenge, signature}}` (the 2024 example), `{"challenge": {challenge,
 * signature}}`, or `{"challenge": "<string>", "signature": "<sig>"}` (the 2024 table). The signature
 * is hex (what polyproto-rs produces: 128 digits) or base64 / base64url (86 characters, or 88 with
 * padding). A missing or undecodable field is a 400 P2CORE_MALFORMED_REQUEST.
 */
export function completedChallengeOf(fields: Fields): CompletedChallenge {
  let holder: Fields = fields;
  const nested = fields.completed_challenge ?? (typeof fields.challenge === 'object' ? fields.challenge : undefined);
  if (nested !== undefined && nested !== null) {
    if (typeof nested !== 'object' || Array.isArray(nested)) throw badRequest('completed_challenge must be an object {challenge, signature}.');
    holder = nested as Fields;
  }
  const { challenge, signature } = holder;
  if (typeof challenge !== 'string' || challenge === '') {
    throw badRequest('The completed challenge is required: {"completed_challenge": {"challenge": "…", "signature": "<hex>"}}.');
  }
  if (typeof signature !== 'string' || signature === '') throw badRequest('The signature of the challenge is required (hex or base64).');
  const bytes = decodeSignature(signature.trim());
  if (!bytes) throw badRequest('The signature must be 64 bytes as 128 hex digits or as base64 / base64url.');
  return { challenge, signature: bytes };
}

function decodeSignature(text: string): Uint8Array | undefined {
  if (/^[0-9a-fA-F]{128}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{86}(==)?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 64) return bytes;
  }
  return undefined;
}

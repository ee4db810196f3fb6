import { fail, quote } from './errors';

export const SESSION_ID_RULE = 'a session ID is 1–32 printable ASCII characters (0x20–0x7E)';

/** True when `bytes` are 1–32 octets of printable ASCII (docs/protocol.md#session-ids). */
export function isSessionIdBytes(bytes: Uint8Array): boolean {
  if (bytes.length < 1 || bytes.length > 32) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] < 0x20 || bytes[i] > 0x7e) return false;
  return true;
}

/** Returns `input` unchanged when it is a valid session ID (docs/protocol.md#session-ids); throws `SESSION_ID_INVALID`. */
export function validateSessionId(input: string): string {
  if (typeof input !== 'string') fail('SESSION_ID_INVALID', 'sessionId', SESSION_ID_RULE, 'not a string');
  if (input.length < 1 || input.length > 32) fail('SESSION_ID_INVALID', 'sessionId', SESSION_ID_RULE, `length ${input.length}`);
  for (let i = 0; i < input.length; i++) {
    const c = input.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) fail('SESSION_ID_INVALID', 'sessionId', SESSION_ID_RULE, `got ${quote(input)}`);
  }
  return input;
}

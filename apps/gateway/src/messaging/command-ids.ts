import { randomUUID } from 'node:crypto';
import { keyedDigest } from '../auth/keyed-digest';

/**
 * Command IDs. A request without an Idempotency-Key gets a random UUID. A request with one gets
 * HMAC-SHA256(P2_TOKEN_KEY, route, actor, Idempotency-Key), cut to 128 bits in the UUID's shape, so
 * that its retry through any gateway of the cluster (they share the key) is the same command and is
 * answered the first outcome.
 *
 * Keyed, because the ID is published (commands, replies, dead letters, every event's
 * correlationId, processed_commands) while an Idempotency-Key is often guessable: from an unkeyed
 * hash a reader of the commands topic could find the key offline, and a retry with it gets the
 * first outcome, a session token included (docs/protocol.md#idempotency-key). The label keeps these
 * HMACs apart from the session tokens made under the same key (SessionTokens).
 */
export class CommandIds {
  constructor(private readonly tokenKey: Buffer) {}

  idFor(route: string, actor: string, idempotencyKey: string | undefined): string {
    if (!idempotencyKey) return randomUUID();
    return uuidShaped(keyedDigest(this.tokenKey, 'p2-command-id-v1', route, actor, idempotencyKey).toString('hex'));
  }
}

/** The first 128 bits of a hex digest in the shape of a UUID (what a command id looks like). */
export function uuidShaped(hexDigest: string): string {
  return `${hexDigest.slice(0, 8)}-${hexDigest.slice(8, 12)}-${hexDigest.slice(12, 16)}-${hexDigest.slice(16, 20)}-${hexDigest.slice(20, 32)}`;
}

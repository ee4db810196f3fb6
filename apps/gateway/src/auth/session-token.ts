import { createHash, randomBytes } from 'node:crypto';
import { keyedDigest } from './keyed-digest';

/** Session tokens never travel through Kafka: the gateway makes the token, sends only its SHA-256
 * hash with the command, and returns the token to the client (docs/protocol.md#session-tokens).
 *
 * A request without an Idempotency-Key gets 256 random bits. A request with one gets
 * HMAC-SHA256(P2_TOKEN_KEY, route, actor, Idempotency-Key), so that its retry is answered the same
 * token, which the stored first outcome (holding only the hash) could not give back otherwise. The
 * key is the gateway's alone, and the Idempotency-Key itself is never published (the command ID is
 * an HMAC of it under the same key, see CommandIds), so no token follows from anything on Kafka or
 * in the database. */
export class SessionTokens {
  constructor(private readonly tokenKey: Buffer) {}

  tokenFor(route: string, actor: string, idempotencyKey: string | undefined): string {
    if (!idempotencyKey) return randomBytes(32).toString('base64url');
    return keyedDigest(this.tokenKey, 'p2-session-token-v2', route, actor, idempotencyKey).toString('base64url');
  }

  /**
   * The token a rotation of the calling session gives: random without an Idempotency-Key, else
   * HMAC-SHA256(P2_TOKEN_KEY, calling token's hash, Idempotency-Key). The calling token stands for
   * the route's cert serial and the actor (a token belongs to one cert), and unlike them it is
   * still known once the rotation ended it: a retry that carries it can be told apart from any
   * other dead token by looking this token up (docs/protocol.md#idempotency-key).
   */
  rotationTokenFor(callingTokenHash: string, idempotencyKey: string | undefined): string {
    if (!idempotencyKey) return randomBytes(32).toString('base64url');
    return keyedDigest(this.tokenKey, 'p2-rotation-token-v1', callingTokenHash, idempotencyKey).toString('base64url');
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

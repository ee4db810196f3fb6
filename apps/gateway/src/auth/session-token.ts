import { createHash, createHmac, hkdfSync } from 'node:crypto';

/** Session tokens never travel through Kafka: the gateway derives the token, sends only its SHA-256
 * hash with the command, and returns the token to the client.
 *
 * The token is HMAC-SHA256(tokenKey, commandId): 256 bits no one can predict without the key
 * (commandIds are random unless an Idempotency-Key names them). Deriving it rather than drawing it
 * lets a retried request with the same Idempotency-Key get the same token as the first, which the
 * stored first outcome (holding only the hash) could not give back otherwise. */
export class SessionTokens {
  private readonly tokenKey: Buffer;

  constructor(keyEncryptionKey: Buffer) {
    this.tokenKey = Buffer.from(hkdfSync('sha256', keyEncryptionKey, Buffer.alloc(0), 'p2-session-token-v1', 32));
  }

  tokenFor(commandId: string): string {
    return createHmac('sha256', this.tokenKey).update(commandId).digest('base64url');
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

import { validAt } from '../id-certs/id-certs.queries';
import type { Reader } from '../reader';

/** The session a token belongs to. */
export interface TokenSession {
  readonly federationId: string;
  readonly sessionId: string;
  readonly certSerial: string;
}

/** The session of the token whose SHA-256 is `tokenHash`, if its certificate is valid at `now` and
 * not invalidated (docs/protocol.md#session-tokens). Every authenticated request asks this: the
 * gateway runs it as a statement prepared once per connection. */
export async function sessionByTokenHash(db: Reader, tokenHash: string, now: Date): Promise<TokenSession | undefined> {
  const rows: { federation_id: string; session_id: string; cert_serial: string }[] = await db.query(
    `SELECT t.federation_id, t.session_id, t.cert_serial::text AS cert_serial
       FROM session_tokens t JOIN id_certs c ON c.serial = t.cert_serial
      WHERE t.token_hash = $1 AND c.invalidated_at IS NULL AND ${validAt('c', '$2')}`,
    [tokenHash, now],
  );
  const row = rows[0];
  return row && { federationId: row.federation_id, sessionId: row.session_id, certSerial: row.cert_serial };
}

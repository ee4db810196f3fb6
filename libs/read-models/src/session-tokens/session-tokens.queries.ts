import { validAt } from '../id-certs/id-certs.queries';
import type { Reader } from '../reader';

/** The session a token belongs to. */
export interface TokenSession {
  readonly federationId: string;
  readonly sessionId: string;
  /** the session's current cert: one this server issued, or for a foreign session its home server's */
  readonly certSerial: string;
  /** when that cert stops being valid */
  readonly certNotAfter: Date;
  /** a session of another home server's actor (docs/protocol.md#foreign-sessions) */
  readonly foreign: boolean;
}

/** The session of the token whose SHA-256 is `tokenHash`, if its certificate is valid at `now` and
 * not invalidated (docs/protocol.md#session-tokens): a cert this server issued, or for a foreign
 * session the current cert its home server vouched for. Every authenticated request asks this: the
 * gateway runs it as a statement prepared once per connection. */
export async function sessionByTokenHash(db: Reader, tokenHash: string, now: Date): Promise<TokenSession | undefined> {
  const rows: { federation_id: string; session_id: string; cert_serial: string; not_after: Date; is_foreign: boolean }[] = await db.query(
    `SELECT t.federation_id, t.session_id, t.is_foreign, COALESCE(c.serial, f.serial)::text AS cert_serial, COALESCE(c.not_after, f.not_after) AS not_after
       FROM session_tokens t
       LEFT JOIN id_certs c ON NOT t.is_foreign AND c.serial = t.cert_serial AND c.invalidated_at IS NULL AND ${validAt('c', '$2')}
       LEFT JOIN foreign_sessions s ON t.is_foreign AND s.federation_id = t.federation_id AND s.session_id = t.session_id
       LEFT JOIN foreign_id_certs f ON f.federation_id = s.federation_id AND f.session_id = s.session_id AND f.serial = s.current_serial
         AND f.invalidated_at IS NULL AND ${validAt('f', '$2')}
      WHERE t.token_hash = $1 AND (c.serial IS NOT NULL OR f.serial IS NOT NULL)`,
    [tokenHash, now],
  );
  const row = rows[0];
  return (
    row && { federationId: row.federation_id, sessionId: row.session_id, certSerial: row.cert_serial, certNotAfter: row.not_after, foreign: row.is_foreign }
  );
}

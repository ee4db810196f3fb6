import { validAt } from '../id-certs/id-certs.queries';
import { BatchedStatement } from '../batched-statement';
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

/** A token to look up (by its SHA-256) and the instant its certificate must be valid at. */
export interface TokenLookup {
  readonly tokenHash: string;
  readonly now: Date;
}

const tokenLookups = new BatchedStatement<TokenLookup>(
  ['token_hash text', 'at timestamptz'],
  (l) => [l.tokenHash, l.now],
  (values) => `SELECT q.i, s.*
       FROM ${values}
       CROSS JOIN LATERAL (
         SELECT t.federation_id, t.session_id, t.is_foreign, COALESCE(c.serial, f.serial)::text AS cert_serial, COALESCE(c.not_after, f.not_after) AS not_after
           FROM session_tokens t
           LEFT JOIN id_certs c ON NOT t.is_foreign AND c.serial = t.cert_serial AND c.invalidated_at IS NULL AND ${validAt('c', 'q.at')}
           LEFT JOIN foreign_sessions fs ON t.is_foreign AND fs.federation_id = t.federation_id AND fs.session_id = t.session_id
           LEFT JOIN foreign_id_certs f ON f.federation_id = fs.federation_id AND f.session_id = fs.session_id AND f.serial = fs.current_serial
             AND f.invalidated_at IS NULL AND ${validAt('f', 'q.at')}
          WHERE t.token_hash = q.token_hash AND (c.serial IS NOT NULL OR f.serial IS NOT NULL)
       ) s`,
);

/**
 * For each lookup, the session of the token whose SHA-256 is `tokenHash`, if its certificate is
 * valid at `now` and not invalidated (docs/protocol.md#session-tokens): a cert this server issued,
 * or for a foreign session the current cert its home server vouched for. Up to
 * {@link LOOKUPS_PER_STATEMENT} tokens in one statement, each at its own instant; the answers in
 * the order of `lookups`. Every authenticated request asks this,
 * and the gateway sends the lookups of concurrent requests together
 * (docs/architecture.md#token-lookups), as statements prepared once per connection.
 */
export async function sessionsByTokenHashes(db: Reader, lookups: readonly TokenLookup[]): Promise<(TokenSession | undefined)[]> {
  const rows = await tokenLookups.query<{ i: number; federation_id: string; session_id: string; cert_serial: string; not_after: Date; is_foreign: boolean }>(
    db,
    lookups,
  );
  const sessions = new Array<TokenSession | undefined>(lookups.length).fill(undefined);
  for (const row of rows) {
    sessions[row.i] = { federationId: row.federation_id, sessionId: row.session_id, certSerial: row.cert_serial, certNotAfter: row.not_after, foreign: row.is_foreign };
  }
  return sessions;
}

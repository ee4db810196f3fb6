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

/** A token to look up (by its SHA-256) and the instant its certificate must be valid at. */
export interface TokenLookup {
  readonly tokenHash: string;
  readonly now: Date;
}

/** The session of the token whose SHA-256 is `tokenHash`, if its certificate is valid at `now` and
 * not invalidated (docs/protocol.md#session-tokens): a cert this server issued, or for a foreign
 * session the current cert its home server vouched for. */
export async function sessionByTokenHash(db: Reader, tokenHash: string, now: Date): Promise<TokenSession | undefined> {
  return (await sessionsByTokenHashes(db, [{ tokenHash, now }]))[0];
}

/** The most lookups {@link sessionsByTokenHashes} takes in one statement. */
export const TOKEN_LOOKUPS_PER_STATEMENT = 64;

/**
 * {@link sessionByTokenHash} for up to {@link TOKEN_LOOKUPS_PER_STATEMENT} tokens in one statement,
 * each at its own instant: the answers in the order of `lookups`. Every authenticated request asks
 * this, and the gateway sends the lookups of concurrent requests together
 * (docs/architecture.md#token-lookups), as statements prepared once per connection.
 *
 * The lookups are a VALUES list padded to a power of two (the last lookup repeated), so that a
 * connection prepares at most seven statements, and each one's row count is known to the planner:
 * its generic plan, one index lookup per token, is then as cheap as a plan made for the values and
 * is kept after a few executions. (With an array parameter the planner guesses the length, prefers
 * a plan made for each execution's values, and plans every time: ~0.3 ms, ten times the lookup.)
 */
export async function sessionsByTokenHashes(db: Reader, lookups: readonly TokenLookup[]): Promise<(TokenSession | undefined)[]> {
  if (lookups.length === 0) return [];
  if (lookups.length > TOKEN_LOOKUPS_PER_STATEMENT) throw new RangeError(`at most ${TOKEN_LOOKUPS_PER_STATEMENT} token lookups per statement`);
  const rows: { i: number; federation_id: string; session_id: string; cert_serial: string; not_after: Date; is_foreign: boolean }[] = await db.query(
    lookupStatement(paddedLength(lookups.length)),
    padded(lookups).flatMap((l) => [l.tokenHash, l.now]),
  );
  const sessions: (TokenSession | undefined)[] = new Array<TokenSession | undefined>(lookups.length).fill(undefined);
  for (const row of rows) {
    if (row.i >= lookups.length) continue; // the padding's answer
    sessions[row.i] = { federationId: row.federation_id, sessionId: row.session_id, certSerial: row.cert_serial, certNotAfter: row.not_after, foreign: row.is_foreign };
  }
  return sessions;
}

const paddedLength = (n: number): number => 2 ** Math.ceil(Math.log2(n));

function padded(lookups: readonly TokenLookup[]): readonly TokenLookup[] {
  const length = paddedLength(lookups.length);
  return length === lookups.length ? lookups : [...lookups, ...new Array<TokenLookup>(length - lookups.length).fill(lookups[lookups.length - 1]!)];
}

const lookupStatements = new Map<number, string>();

function lookupStatement(length: number): string {
  let text = lookupStatements.get(length);
  if (text === undefined) {
    const values = Array.from({ length }, (_, i) => `($${2 * i + 1}::text, $${2 * i + 2}::timestamptz, ${i})`).join(', ');
    text = `SELECT q.i, s.*
       FROM (VALUES ${values}) AS q(token_hash, at, i)
       CROSS JOIN LATERAL (
         SELECT t.federation_id, t.session_id, t.is_foreign, COALESCE(c.serial, f.serial)::text AS cert_serial, COALESCE(c.not_after, f.not_after) AS not_after
           FROM session_tokens t
           LEFT JOIN id_certs c ON NOT t.is_foreign AND c.serial = t.cert_serial AND c.invalidated_at IS NULL AND ${validAt('c', 'q.at')}
           LEFT JOIN foreign_sessions fs ON t.is_foreign AND fs.federation_id = t.federation_id AND fs.session_id = t.session_id
           LEFT JOIN foreign_id_certs f ON f.federation_id = fs.federation_id AND f.session_id = fs.session_id AND f.serial = fs.current_serial
             AND f.invalidated_at IS NULL AND ${validAt('f', 'q.at')}
          WHERE t.token_hash = q.token_hash AND (c.serial IS NOT NULL OR f.serial IS NOT NULL)
       ) s`;
    lookupStatements.set(length, text);
  }
  return text;
}

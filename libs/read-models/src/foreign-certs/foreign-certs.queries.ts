import type { Reader } from '../reader';

/** A root of another home server as this server verified it. */
export interface ForeignRootRow {
  readonly domain: string;
  readonly serial: string;
  readonly pem: string;
  /** base64 of the raw Ed25519 key */
  readonly publicKey: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly isCurrent: boolean;
  readonly cacheUntil: Date;
  readonly fetchedAt: Date;
  readonly supersededAt: Date | null;
}

/** A foreign session's cert as its home server last vouched for it. */
export interface ForeignIdCertRow {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly issuerDomain: string;
  readonly pem: string;
  readonly publicKey: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly rootSerial: string;
  readonly invalidatedAt: Date | null;
  readonly cacheUntil: Date;
  readonly checkedAt: Date;
}

/** A foreign session with a live token whose cert should be confirmed with its home server again. */
export interface ForeignCertToCheck {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly pem: string;
  readonly issuerDomain: string;
}

// camelCase aliases: the rows come out in the shape of the interfaces above, no mapping by hand
const ROOT_COLUMNS = `domain, serial::text AS serial, pem, public_key AS "publicKey", not_before AS "notBefore", not_after AS "notAfter",
  is_current AS "isCurrent", cache_until AS "cacheUntil", fetched_at AS "fetchedAt", superseded_at AS "supersededAt"`;
const certColumns = (c: string) => `${c}.federation_id AS "federationId", ${c}.session_id AS "sessionId", ${c}.serial::text AS serial,
  ${c}.issuer_domain AS "issuerDomain", ${c}.pem, ${c}.public_key AS "publicKey", ${c}.not_before AS "notBefore", ${c}.not_after AS "notAfter",
  ${c}.root_serial::text AS "rootSerial", ${c}.invalidated_at AS "invalidatedAt", ${c}.cache_until AS "cacheUntil", ${c}.checked_at AS "checkedAt"`;

/** The roots of `domain` this server has verified, the current one first, then the latest fetched;
 * at most `limit`. */
export async function foreignRoots(db: Reader, domain: string, limit: number): Promise<ForeignRootRow[]> {
  return db.query<ForeignRootRow[]>(
    `SELECT ${ROOT_COLUMNS} FROM foreign_server_certs WHERE domain = $1 ORDER BY is_current DESC, fetched_at DESC LIMIT $2`,
    [domain, limit],
  );
}

/** One root of `domain`, by its serial. */
export async function foreignRoot(db: Reader, domain: string, serial: string): Promise<ForeignRootRow | undefined> {
  const rows = await db.query<ForeignRootRow[]>(`SELECT ${ROOT_COLUMNS} FROM foreign_server_certs WHERE domain = $1 AND serial = $2`, [domain, serial]);
  return rows[0];
}

/** What the home server last said about one cert of a foreign session. */
export async function foreignIdCert(db: Reader, federationId: string, sessionId: string, serial: string): Promise<ForeignIdCertRow | undefined> {
  const rows = await db.query<ForeignIdCertRow[]>(
    `SELECT ${certColumns('c')} FROM foreign_id_certs c WHERE c.federation_id = $1 AND c.session_id = $2 AND c.serial = $3`,
    [federationId, sessionId, serial],
  );
  return rows[0];
}

/** The cert a foreign session signed in with or announced last, if it ever signed in. */
export async function currentForeignIdCert(db: Reader, federationId: string, sessionId: string): Promise<ForeignIdCertRow | undefined> {
  const rows = await db.query<ForeignIdCertRow[]>(
    `SELECT ${certColumns('c')}
       FROM foreign_sessions s JOIN foreign_id_certs c ON c.federation_id = s.federation_id AND c.session_id = s.session_id AND c.serial = s.current_serial
      WHERE s.federation_id = $1 AND s.session_id = $2`,
    [federationId, sessionId],
  );
  return rows[0];
}

/** One foreign session's cert, as the refresher names it. */
export interface ForeignCertKey {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
}

/**
 * Foreign sessions with a live token whose current cert, still valid at `now`, was last confirmed
 * before `checkedBefore`, or before its root stopped being its domain's current one
 * (docs/protocol.md#federation-refresh), in turns per domain: each domain's least recently
 * confirmed, then each one's second, and so on (so that one domain with more sessions than `limit`
 * does not take every round), least recently confirmed first within a turn; not those in `skip`
 * (whose last asking failed: without a confirmation their order never changes, and they would
 * come first in every round).
 */
export async function foreignCertsToCheck(
  db: Reader,
  now: Date,
  checkedBefore: Date,
  limit: number,
  skip: readonly ForeignCertKey[] = [],
): Promise<ForeignCertToCheck[]> {
  const rows: { federation_id: string; session_id: string; serial: string; pem: string; issuer_domain: string }[] = await db.query(
    `SELECT c.federation_id, c.session_id, c.serial::text AS serial, c.pem, c.issuer_domain
       FROM session_tokens t
       JOIN foreign_sessions s ON s.federation_id = t.federation_id AND s.session_id = t.session_id
       JOIN foreign_id_certs c ON c.federation_id = s.federation_id AND c.session_id = s.session_id AND c.serial = s.current_serial
       LEFT JOIN foreign_server_certs r ON r.domain = c.issuer_domain AND r.serial = c.root_serial
      WHERE t.is_foreign AND c.invalidated_at IS NULL AND c.not_after >= $3
        AND (c.checked_at < $1 OR (r.superseded_at IS NOT NULL AND c.checked_at < r.superseded_at))
        AND NOT EXISTS (
          SELECT 1 FROM unnest($4::text[], $5::text[], $6::text[]) AS k(federation_id, session_id, serial)
           WHERE k.federation_id = c.federation_id AND k.session_id = c.session_id AND k.serial = c.serial::text)
      ORDER BY row_number() OVER (PARTITION BY c.issuer_domain ORDER BY c.checked_at), c.checked_at LIMIT $2`,
    [checkedBefore, limit, now, skip.map((k) => k.federationId), skip.map((k) => k.sessionId), skip.map((k) => k.serial)],
  );
  return rows.map((r) => ({ federationId: r.federation_id, sessionId: r.session_id, serial: r.serial, pem: r.pem, issuerDomain: r.issuer_domain }));
}

/** Domains of foreign sessions with a live token whose current root was last fetched before
 * `fetchedBefore` (or that have none), least recently fetched first; not those in `skip` (whose
 * last fetch failed, for the reason foreignCertsToCheck gives). */
export async function foreignDomainsToCheck(db: Reader, fetchedBefore: Date, limit: number, skip: readonly string[] = []): Promise<string[]> {
  const rows: { domain: string }[] = await db.query(
    `SELECT d.domain FROM (
        SELECT DISTINCT split_part(t.federation_id, '@', 2) AS domain FROM session_tokens t WHERE t.is_foreign
      ) d
      LEFT JOIN foreign_server_certs r ON r.domain = d.domain AND r.is_current
      WHERE (r.fetched_at IS NULL OR r.fetched_at < $1) AND d.domain <> ALL($3::text[])
      ORDER BY r.fetched_at NULLS FIRST LIMIT $2`,
    [fetchedBefore, limit, skip],
  );
  return rows.map((r) => r.domain);
}

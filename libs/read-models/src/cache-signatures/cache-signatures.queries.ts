import type { Sql } from '@p2/event-store';
import { notExpiredAt } from '../id-certs/id-certs.queries';
import type { Reader } from '../reader';

/**
 * The signed 2025 cache information of certificates (docs/protocol.md#cache-information). Not a
 * projection: the certstore signs windows with the server key as time passes, so the table is not
 * a function of the log and the rebuild keeps it.
 */

/** One signed cache window, times in UNIX seconds. */
export interface CacheWindow {
  readonly cacheNotValidBefore: number;
  readonly cacheNotValidAfter: number;
  readonly invalidatedAt: number | null;
  readonly signature: string;
}

/** A certificate the certstore keeps cache windows for. */
export interface CacheableCert {
  readonly serial: string;
  readonly pem: string;
  /** UNIX seconds */
  readonly invalidatedAt?: number;
}

/** The freshest window of a certificate that contains `now`; once any of its windows tells of its
 * invalidation, only such windows. A renewal reads the certificate before it signs, without a lock an
 * invalidating transaction would wait for, so a window saying "not invalidated" can commit just after
 * the invalidation's window (whose DELETE of such windows could not see it) and end a second later:
 * it must never be served. The next renewal of the cert replaces it. */
export async function currentCacheWindow(db: Reader, serial: string, now: Date): Promise<CacheWindow | undefined> {
  const seconds = Math.floor(now.getTime() / 1000);
  const rows: Record<string, string | null>[] = await db.query(
    `SELECT cache_not_valid_before::text AS nb, cache_not_valid_after::text AS na, invalidated_at::text AS inv, signature
       FROM cache_signatures WHERE serial = $1 AND cache_not_valid_before <= $2 AND cache_not_valid_after > $2
        AND (invalidated_at IS NOT NULL OR NOT EXISTS (SELECT 1 FROM cache_signatures i WHERE i.serial = $1 AND i.invalidated_at IS NOT NULL))
      ORDER BY cache_not_valid_after DESC LIMIT 1`,
    [serial, seconds],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    cacheNotValidBefore: Number(row.nb),
    cacheNotValidAfter: Number(row.na),
    invalidatedAt: row.inv === null ? null : Number(row.inv),
    signature: row.signature as string,
  };
}

/** Roots and actor certs not expired at `now`; with `dueBefore` (UNIX s) only those without a
 * window lasting beyond it; with `page`, at most `limit` of them in serial order, after the serial `after`. */
export async function certsNeedingWindows(
  db: Reader,
  now: Date,
  dueBefore?: number,
  page?: { readonly limit: number; readonly after?: string },
): Promise<CacheableCert[]> {
  const params: unknown[] = [now];
  const param = (value: unknown) => `$${params.push(value)}`;
  let where = notExpiredAt('c', '$1');
  if (dueBefore !== undefined) {
    where += ` AND NOT EXISTS (SELECT 1 FROM cache_signatures s WHERE s.serial = c.serial AND s.cache_not_valid_after > ${param(dueBefore)})`;
  }
  // Keyset paging on the primary keys: each page starts where the last ended. Each branch is
  // ordered and limited too, so each walks its primary key index and stops after `limit` due rows
  // rather than sorting every remaining cert (what the planner does with the bound on the union alone).
  if (page?.after !== undefined) where += ` AND c.serial > ${param(page.after)}::numeric`;
  const branchBound = page === undefined ? '' : `ORDER BY c.serial LIMIT ${param(page.limit)}`;
  const bound = page === undefined ? '' : `ORDER BY serial_order LIMIT $${params.length}`;
  const rows: { serial: string; pem: string; invalidated_at: string | null }[] = await db.query(
    `(SELECT c.serial::text AS serial, c.pem, NULL::text AS invalidated_at, c.serial AS serial_order FROM server_certs c WHERE ${where} ${branchBound})
     UNION ALL
     (SELECT c.serial::text, c.pem, floor(extract(epoch FROM c.invalidated_at))::bigint::text, c.serial FROM id_certs c WHERE ${where} ${branchBound})
     ${bound}`,
    params,
  );
  return rows.map((r) => ({ serial: r.serial, pem: r.pem, ...(r.invalidated_at === null ? {} : { invalidatedAt: Number(r.invalidated_at) }) }));
}

/** Records a signed window. An invalidated certificate's window replaces the windows signed before
 * the invalidation, which would tell caches the certificate is still fine. */
export function recordCacheWindow(db: Sql, serial: string, window: CacheWindow): void {
  if (window.invalidatedAt !== null) {
    db.defer('DELETE FROM cache_signatures WHERE serial = $1 AND invalidated_at IS NULL', [serial]);
  }
  db.defer(
    `INSERT INTO cache_signatures (serial, cache_not_valid_before, cache_not_valid_after, invalidated_at, signature)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [serial, window.cacheNotValidBefore, window.cacheNotValidAfter, window.invalidatedAt, window.signature],
  );
}

/** Drops every window of these certificates (signed with a key that is no longer the server's). */
export function dropCacheWindows(db: Sql, serials: readonly string[]): void {
  db.defer('DELETE FROM cache_signatures WHERE serial = ANY($1::numeric[])', [serials]);
}

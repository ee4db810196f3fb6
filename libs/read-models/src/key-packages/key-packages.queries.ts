import type { KeyPackageData } from '@p2/contracts';
import type { KeyPackageStock, KeyPackagesState, SessionCert } from '@p2/domain';
import { planOnce, streamVersionSql } from '@p2/event-store';
import { validAt } from '../id-certs/id-certs.queries';
import type { Reader } from '../reader';

interface StockRow {
  serial: string;
  session_id: string;
  init_key: string;
  last_resort: boolean;
  served_count: number;
  /** the stored fields' bytes (claims only) */
  bytes?: number;
}

/** What an upload is decided on: the stream's version and the stock (the keypackages stream grows
 * by one event per package handed out, without bound, so its state is read from this read model,
 * which the same transactions write), whether the caller's cert is still its session's valid one,
 * and which of the new init keys are stored anywhere on the server already. */
export interface UploadFacts {
  readonly version: number;
  /** undefined when the version is the `knownVersion` the caller holds the state of */
  readonly state: KeyPackagesState | undefined;
  readonly sessionActive: boolean;
  readonly alreadyStored: readonly string[];
}

/** What a claim is decided on: the stream's version and stock, whether the actor exists and its
 * active sessions, in hand-out order. */
export interface ClaimFacts {
  readonly version: number;
  readonly state: KeyPackagesState;
  readonly actorRegistered: boolean;
  readonly activeSessions: readonly SessionCert[];
  /** the stored size of each package of the stock, by init key (its share of a claim's budget) */
  readonly packageBytes: Readonly<Record<string, number>>;
}

/** The unclaimed, unretired stock of actor `$1`'s certs `serials` (an SQL numeric[] expression),
 * oldest first, as JSON rows; with `withBytes`, each with the bytes of its stored fields
 * (extensions as jsonb prints it, a little longer than the JSON an answer holds). */
function stockJson(serials: string, withBytes = false): string {
  const bytes = withBytes
    ? `, 'bytes', octet_length(protocol_version) + octet_length(cipher_suite) + octet_length(init_key) + octet_length(leaf_node) + coalesce(octet_length(extensions::text), 0)`
    : '';
  return `coalesce((SELECT json_agg(json_build_object('serial', cert_serial::text, 'session_id', session_id, 'init_key', init_key,
                                        'last_resort', last_resort, 'served_count', served_count${bytes}) ORDER BY added_position, added_index)
              FROM key_packages
             WHERE federation_id = $1 AND cert_serial = ANY(${serials}) AND claimed_at IS NULL AND retired_at IS NULL), '[]')`;
}

/**
 * Everything an AddKeyPackages / ReplaceLastResortKeyPackage decision reads. The stock (up to
 * KEY_PACKAGE_LIMITS.stockPerSession rows, each on a heap page of its own) is the costly part; a
 * caller that holds the state of `session.serial` as of `knownVersion` gets it only when the stream
 * moved past that version, in a second statement. The first one (version, session, init keys) reaches
 * every table by key, so it keeps one generic plan (planOnce, docs/architecture.md#planning).
 *
 * Without a common snapshot the stock may be newer than the version (READ COMMITTED: a writer
 * committing in between); every change of the key_packages rows is an event of this stream, so
 * the append at the version read then conflicts and the command runs again on fresh facts
 * (docs/architecture.md#streams).
 */
export async function uploadFacts(
  db: Reader,
  streamId: string,
  federationId: string,
  session: SessionCert,
  initKeys: readonly string[],
  at: Date,
  knownVersion = -1,
): Promise<UploadFacts> {
  const [row]: { version: number; session_active: boolean; already_stored: string[] }[] = await db.query(
    planOnce(`SELECT ${streamVersionSql('$3')} AS version,
            EXISTS (SELECT 1 FROM id_certs c WHERE c.serial = $2 AND c.federation_id = $1 AND c.session_id = $4
                       AND c.invalidated_at IS NULL AND ${validAt('c', '$5')}) AS session_active,
            ARRAY(SELECT init_key FROM key_packages WHERE init_key = ANY($6::text[])) AS already_stored`),
    [federationId, session.serial, streamId, session.sessionId, at, initKeys],
  );
  const state = row!.version === knownVersion ? undefined : await stockOf(db, federationId, session.serial);
  return { version: row!.version, state, sessionActive: row!.session_active, alreadyStored: row!.already_stored };
}

/** The unclaimed, unretired stock of actor `federationId`'s cert `serial`. */
async function stockOf(db: Reader, federationId: string, serial: string): Promise<KeyPackagesState> {
  const [row]: { stock: StockRow[] }[] = await db.query(`SELECT ${stockJson('ARRAY[$2::numeric]')} AS stock`, [federationId, serial]);
  return toState(row!.stock);
}

/** Everything a ClaimKeyPackages decision reads, in one statement: the actor, its active sessions
 * (those whose latest cert is valid and not invalidated at `at`, with that cert's serial, by
 * session ID) and their stock, with each package's size. */
export async function claimFacts(db: Reader, streamId: string, federationId: string, at: Date): Promise<ClaimFacts> {
  const [row]: { version: number; actor_registered: boolean; sessions: { session_id: string; serial: string }[]; stock: StockRow[] }[] = await db.query(
    `WITH active AS (
       SELECT session_id, serial FROM (
         SELECT DISTINCT ON (session_id) session_id, serial, invalidated_at, not_before, not_after
           FROM id_certs WHERE federation_id = $1
          ORDER BY session_id, issued_at DESC, (invalidated_at IS NULL) DESC, id_certs.serial DESC
       ) c
       WHERE c.invalidated_at IS NULL AND ${validAt('c', '$3')}
     )
     SELECT ${streamVersionSql('$2')} AS version,
            EXISTS (SELECT 1 FROM actors WHERE federation_id = $1) AS actor_registered,
            coalesce((SELECT json_agg(json_build_object('session_id', session_id, 'serial', serial::text) ORDER BY session_id) FROM active), '[]') AS sessions,
            ${stockJson('ARRAY(SELECT serial FROM active)', true)} AS stock`,
    [federationId, streamId, at],
  );
  return {
    version: row!.version,
    state: toState(row!.stock),
    actorRegistered: row!.actor_registered,
    activeSessions: row!.sessions.map((s) => ({ sessionId: s.session_id, serial: s.serial })),
    packageBytes: Object.fromEntries(row!.stock.map((r) => [r.init_key, r.bytes ?? 0])),
  };
}

/** The stored packages of `initKeys`, as the clients sent them (init_key normalised). */
export async function storedKeyPackages(db: Reader, initKeys: readonly string[]): Promise<Map<string, KeyPackageData>> {
  const rows: { init_key: string; protocol_version: string; cipher_suite: string; leaf_node: string; extensions: unknown }[] =
    initKeys.length === 0
      ? []
      : await db.query(
          'SELECT init_key, protocol_version, cipher_suite, leaf_node, extensions FROM key_packages WHERE init_key = ANY($1::text[])',
          [initKeys],
        );
  return new Map(
    rows.map((r) => [
      r.init_key,
      { protocolVersion: r.protocol_version, cipherSuite: r.cipher_suite, initKey: r.init_key, leafNode: r.leaf_node, extensions: r.extensions },
    ]),
  );
}

/** The decider's state from the stock rows (what its evolve would fold from the stream). */
function toState(rows: readonly StockRow[]): KeyPackagesState {
  const stock: Record<string, { sessionId: string; unclaimed: string[]; lastResort?: KeyPackageStock['lastResort'] }> = {};
  for (const row of rows) {
    const entry = (stock[row.serial] ??= { sessionId: row.session_id, unclaimed: [] });
    if (row.last_resort) entry.lastResort = { initKey: row.init_key, used: row.served_count > 0 };
    else entry.unclaimed.push(row.init_key);
  }
  return { stock };
}

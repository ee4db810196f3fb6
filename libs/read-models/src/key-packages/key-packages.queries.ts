import { Injectable } from '@nestjs/common';
import { keyPackagesStream, type KeyPackageData } from '@p2/contracts';
import type { KeyPackageStock, KeyPackagesState, SessionCert } from '@p2/domain';
import type { LoadedStream } from './aggregate.store';
import type { CommandContext } from './command-context';
import { type Sql } from '@p2/event-store';

interface StockRow {
  serial: string;
  session_id: string;
  init_key: string;
  last_resort: boolean;
  served_count: number;
}

/** What an upload is decided on, besides the stock: whether the caller's cert is still its
 * session's valid one, and which of the new init keys are stored anywhere on the server already. */
export interface UploadFacts {
  readonly loaded: LoadedStream<KeyPackagesState>;
  readonly sessionActive: boolean;
  readonly alreadyStored: readonly string[];
}

/** What a claim is decided on: whether the actor exists and its active sessions, in hand-out order. */
export interface ClaimFacts {
  readonly loaded: LoadedStream<KeyPackagesState>;
  readonly actorRegistered: boolean;
  readonly activeSessions: readonly SessionCert[];
}

/** The unclaimed, unretired stock of actor `$1`'s certs `serials` (an SQL numeric[] expression),
 * oldest first, as JSON rows. */
function stockJson(serials: string): string {
  return `coalesce((SELECT json_agg(json_build_object('serial', cert_serial::text, 'session_id', session_id, 'init_key', init_key,
                                        'last_resort', last_resort, 'served_count', served_count) ORDER BY added_position, added_index)
              FROM key_packages
             WHERE federation_id = $1 AND cert_serial = ANY(${serials}) AND claimed_at IS NULL AND retired_at IS NULL), '[]')`;
}

/** The keypackages stream's reads. Its state is not folded from the stream (it grows by one event
 * per package handed out, without bound) but loaded from the key_packages projection, which the
 * same transactions write; the stream version is read in the same statement as the stock (one
 * snapshot), so a writer that commits after it makes the append conflict and the command retry. */
@Injectable()
export class KeyPackagesRepository {
  /** Everything an AddKeyPackages / ReplaceLastResortKeyPackage decision reads, in one statement. */
  async loadForUpload(ctx: CommandContext, federationId: string, session: SessionCert, initKeys: readonly string[]): Promise<UploadFacts> {
    const streamId = keyPackagesStream(federationId);
    const [row]: { version: number; session_active: boolean; already_stored: string[]; stock: StockRow[] }[] = await ctx.db.query(
      `SELECT (SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $3)::int AS version,
              EXISTS (SELECT 1 FROM id_certs WHERE serial = $2 AND federation_id = $1 AND session_id = $4
                         AND invalidated_at IS NULL AND not_before <= $5 AND not_after >= $5) AS session_active,
              ARRAY(SELECT init_key FROM key_packages WHERE init_key = ANY($6::text[])) AS already_stored,
              ${stockJson('ARRAY[$2::numeric]')} AS stock`,
      [federationId, session.serial, streamId, session.sessionId, ctx.at, initKeys],
    );
    return { loaded: { streamId, version: row!.version, state: toState(row!.stock) }, sessionActive: row!.session_active, alreadyStored: row!.already_stored };
  }

  /** Everything a ClaimKeyPackages decision reads: the actor, its active sessions (those whose
   * latest cert is neither invalidated nor expired, with that cert's serial, by session ID) and
   * their stock, in one statement. */
  async loadForClaim(ctx: CommandContext, federationId: string): Promise<ClaimFacts> {
    const streamId = keyPackagesStream(federationId);
    const [row]: { version: number; actor_registered: boolean; sessions: { session_id: string; serial: string }[]; stock: StockRow[] }[] =
      await ctx.db.query(
        `WITH active AS (
           SELECT session_id, serial FROM (
             SELECT DISTINCT ON (session_id) session_id, serial, invalidated_at, not_before, not_after
               FROM id_certs WHERE federation_id = $1
              ORDER BY session_id, issued_at DESC, (invalidated_at IS NULL) DESC, id_certs.serial DESC
           ) current
           WHERE invalidated_at IS NULL AND not_before <= $3 AND not_after >= $3
         )
         SELECT (SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $2)::int AS version,
                EXISTS (SELECT 1 FROM actors WHERE federation_id = $1) AS actor_registered,
                coalesce((SELECT json_agg(json_build_object('session_id', session_id, 'serial', serial::text) ORDER BY session_id) FROM active), '[]') AS sessions,
                ${stockJson('ARRAY(SELECT serial FROM active)')} AS stock`,
        [federationId, streamId, ctx.at],
      );
    return {
      loaded: { streamId, version: row!.version, state: toState(row!.stock) },
      actorRegistered: row!.actor_registered,
      activeSessions: row!.sessions.map((s) => ({ sessionId: s.session_id, serial: s.serial })),
    };
  }

  /** The stored packages of `initKeys`, as the clients sent them (init_key normalised). */
  async packages(db: Sql, initKeys: readonly string[]): Promise<Map<string, KeyPackageData>> {
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
}

/** The decider's state from the stock rows (what its evolve would fold from the stream). */
function toState(rows: readonly StockRow[]): KeyPackagesState {
  const stock: Record<string, KeyPackageStock> = {};
  for (const row of rows) {
    const entry = stock[row.serial] ?? { sessionId: row.session_id, unclaimed: [] };
    stock[row.serial] = row.last_resort
      ? { ...entry, lastResort: { initKey: row.init_key, used: row.served_count > 0 } }
      : { ...entry, unclaimed: [...entry.unclaimed, row.init_key] };
  }
  return { stock };
}

import { Injectable } from '@nestjs/common';
import { keyPackagesStream, type KeyPackageData } from '@p2/contracts';
import { keyPackagesDecider, type KeyPackageStock, type KeyPackagesCommand, type KeyPackagesEvent, type KeyPackagesState, type SessionCert } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import type { EntityManager } from 'typeorm';
import { applyProjections } from '../projections/projections';
import type { CommandContext } from './command-context';

export interface LoadedKeyPackages {
  readonly streamId: string;
  readonly version: number;
  readonly state: KeyPackagesState;
}

interface StockRow {
  serial: string;
  session_id: string;
  init_key: string;
  last_resort: boolean;
  served_count: number;
}

/** The keypackages stream's side of the handler. The state is not folded from the stream (it
 * grows by one event per package handed out, without bound) but loaded from the key_packages
 * projection, which the same transactions write: the stream version is read FIRST, so a writer
 * that commits after it makes the append's version check fail and the command retry. */
@Injectable()
export class KeyPackagesRepository {
  constructor(private readonly eventStore: PostgresEventStore) {}

  /** The stock of the given certs only (what the command decides on). */
  async load(manager: EntityManager, federationId: string, serials: readonly string[]): Promise<LoadedKeyPackages> {
    const streamId = keyPackagesStream(federationId);
    const [{ version }]: { version: number }[] = await manager.query('SELECT count(*)::int AS version FROM events WHERE stream_id = $1', [streamId]);
    const rows: StockRow[] =
      serials.length === 0
        ? []
        : await manager.query(
            `SELECT cert_serial::text AS serial, session_id, init_key, last_resort, served_count FROM key_packages
              WHERE federation_id = $1 AND cert_serial = ANY($2::numeric[]) AND claimed_at IS NULL AND retired_at IS NULL
              ORDER BY added_position, added_index`,
            [federationId, serials],
          );
    const stock: Record<string, KeyPackageStock> = {};
    for (const row of rows) {
      const entry = stock[row.serial] ?? { sessionId: row.session_id, unclaimed: [] };
      stock[row.serial] = row.last_resort
        ? { ...entry, lastResort: { initKey: row.init_key, used: row.served_count > 0 } }
        : { ...entry, unclaimed: [...entry.unclaimed, row.init_key] };
    }
    return { streamId, version, state: { stock } };
  }

  async decideAndAppend(ctx: CommandContext, loaded: LoadedKeyPackages, command: KeyPackagesCommand): Promise<readonly KeyPackagesEvent[]> {
    const events = keyPackagesDecider.decide(command, loaded.state);
    const stored = await this.eventStore.append(ctx.manager, loaded.streamId, loaded.version, events, ctx.metadata);
    await applyProjections(ctx.manager, stored);
    return events;
  }

  /** Which of `initKeys` are stored on this server already (any actor, any state). */
  async storedInitKeys(manager: EntityManager, initKeys: readonly string[]): Promise<string[]> {
    const rows: { init_key: string }[] = await manager.query('SELECT init_key FROM key_packages WHERE init_key = ANY($1::text[])', [initKeys]);
    return rows.map((r) => r.init_key);
  }

  /** Whether `serial` is the valid (not invalidated, inside its validity) cert of that session. */
  async isActiveCert(manager: EntityManager, federationId: string, session: SessionCert, at: Date): Promise<boolean> {
    const rows: unknown[] = await manager.query(
      `SELECT 1 FROM id_certs WHERE serial = $1 AND federation_id = $2 AND session_id = $3
          AND invalidated_at IS NULL AND not_before <= $4 AND not_after >= $4`,
      [session.serial, federationId, session.sessionId, at],
    );
    return rows.length > 0;
  }

  /** The actor's active sessions: those whose latest cert is neither invalidated nor expired,
   * with that cert's serial, ordered by session ID. */
  async activeSessions(manager: EntityManager, federationId: string, at: Date): Promise<SessionCert[]> {
    const rows: { session_id: string; serial: string }[] = await manager.query(
      `SELECT session_id, serial FROM (
         SELECT DISTINCT ON (session_id) session_id, serial::text AS serial, invalidated_at, not_before, not_after
           FROM id_certs WHERE federation_id = $1
          ORDER BY session_id, issued_at DESC, (invalidated_at IS NULL) DESC, id_certs.serial DESC
       ) current
       WHERE invalidated_at IS NULL AND not_before <= $2 AND not_after >= $2
       ORDER BY session_id`,
      [federationId, at],
    );
    return rows.map((r) => ({ sessionId: r.session_id, serial: r.serial }));
  }

  async actorRegistered(manager: EntityManager, federationId: string): Promise<boolean> {
    const rows: unknown[] = await manager.query('SELECT 1 FROM actors WHERE federation_id = $1', [federationId]);
    return rows.length > 0;
  }

  /** The stored packages of `initKeys`, as the clients sent them (init_key normalised). */
  async packages(manager: EntityManager, initKeys: readonly string[]): Promise<Map<string, KeyPackageData>> {
    const rows: { init_key: string; protocol_version: string; cipher_suite: string; leaf_node: string; extensions: unknown }[] =
      initKeys.length === 0
        ? []
        : await manager.query(
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

import type {
  KeyPackageClaimedData,
  KeyPackageData,
  KeyPackagesAddedData,
  LastResortKeyPackageReplacedData,
  LastResortKeyPackageServedData,
} from '@p2/contracts';
import { ConcurrencyError, planOnce, type AppendedEvent, type Sql } from '@p2/event-store';
import type { Projection } from '../projection';

/** The constraint behind "init_key is unique over every KeyPackage the server stored"
 * (docs/protocol.md#key-packages); the command processor turns its violation into a P2CORE_DUPLICATE_INIT_KEY refusal. */
export const KEY_PACKAGES_INIT_KEY_CONSTRAINT = 'key_packages_init_key_key';

/** Every KeyPackage with its state. Handing a package out is a guarded transition (unclaimed →
 * claimed exactly once): if the row is not in the state the event expects, another writer got
 * there first and the transaction is refused, on top of the stream's version check. */
export const keyPackagesProjection: Projection = {
  name: 'key-packages',
  tables: ['key_packages'],
  handles: ['KeyPackagesAdded', 'LastResortKeyPackageReplaced', 'KeyPackageClaimed', 'LastResortKeyPackageServed'],
  async apply(db, event) {
    switch (event.type) {
      case 'KeyPackagesAdded': {
        const d = event.data as KeyPackagesAddedData;
        await insertPackages(db, event, d, d.keyPackages, false);
        return;
      }
      case 'LastResortKeyPackageReplaced': {
        const d = event.data as LastResortKeyPackageReplacedData;
        db.defer(
          `UPDATE key_packages SET retired_at = $3 WHERE federation_id = $1 AND session_id = $2 AND last_resort AND retired_at IS NULL`,
          [d.federationId, d.sessionId, d.replacedAt],
        );
        await insertPackages(db, event, d, [d.keyPackage], true);
        return;
      }
      case 'KeyPackageClaimed': {
        const d = event.data as KeyPackageClaimedData;
        await transition(
          db,
          event,
          `UPDATE key_packages SET claimed_at = $2
            WHERE init_key = $1 AND cert_serial = $3 AND NOT last_resort AND claimed_at IS NULL RETURNING init_key`,
          [d.initKey, d.claimedAt, d.serial],
        );
        return;
      }
      case 'LastResortKeyPackageServed': {
        const d = event.data as LastResortKeyPackageServedData;
        await transition(
          db,
          event,
          `UPDATE key_packages SET served_count = served_count + 1, last_served_at = $2
            WHERE init_key = $1 AND cert_serial = $3 AND last_resort AND retired_at IS NULL RETURNING init_key`,
          [d.initKey, d.servedAt, d.serial],
        );
        return;
      }
    }
  },
};

async function insertPackages(
  db: Sql,
  event: AppendedEvent,
  d: { federationId: string; sessionId: string; serial: string; addedAt?: string; replacedAt?: string },
  packages: readonly KeyPackageData[],
  lastResort: boolean,
): Promise<void> {
  const params: unknown[] = [];
  const rows = packages.map((p, i) => {
    params.push(
      p.initKey,
      d.federationId,
      d.sessionId,
      d.serial,
      lastResort,
      p.protocolVersion,
      p.cipherSuite,
      p.leafNode,
      JSON.stringify(p.extensions ?? null),
      event.streamPosition,
      i,
      d.addedAt ?? d.replacedAt,
    );
    const o = i * 12;
    return `($${o + 1}, $${o + 2}, $${o + 3}, $${o + 4}, $${o + 5}, $${o + 6}, $${o + 7}, $${o + 8}, $${o + 9}::jsonb, $${o + 10}, $${o + 11}, $${o + 12})`;
  });
  // an init_key another actor stored concurrently (on another partition) surfaces as a typed
  // UniqueViolationError on KEY_PACKAGES_INIT_KEY_CONSTRAINT
  db.defer(
    planOnce(`INSERT INTO key_packages (init_key, federation_id, session_id, cert_serial, last_resort, protocol_version, cipher_suite,
                               leaf_node, extensions, added_position, added_index, added_at)
     VALUES ${rows.join(', ')}`),
    params,
  );
}

/** Runs a guarded UPDATE … RETURNING that must touch exactly one row. */
async function transition(db: Sql, event: AppendedEvent, sql: string, params: unknown[]): Promise<void> {
  const rows: unknown[] = await db.query(sql, params);
  if (rows.length !== 1) throw new ConcurrencyError(event.streamId, event.streamPosition - 1);
}

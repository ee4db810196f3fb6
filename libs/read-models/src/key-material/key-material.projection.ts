import type { KeyMaterialDeletedData, KeyMaterialStoredData } from '@p2/contracts';
import { planOnce } from '@p2/event-store';
import type { Projection } from '../projection';

/** Encrypted private key material per (actor, serial), read by the gateway for GET /session/keymaterial.
 * The key_data of an event of schema version 2 is opened with the item's data key; when that key is
 * gone the item was deleted afterwards, and there is nothing to write (a rebuild then equals the
 * live table, from which the deletion removed the row). */
export const keyMaterialProjection: Projection = {
  name: 'key-material',
  tables: ['key_material'],
  handles: ['KeyMaterialStored', 'KeyMaterialDeleted'],
  async apply(db, event, secrets) {
    if (event.type === 'KeyMaterialDeleted') {
      const d = event.data as KeyMaterialDeletedData;
      db.defer(`DELETE FROM key_material WHERE federation_id = $1 AND serial = ANY($2::numeric[])`, [d.federationId, d.serials]);
      return;
    }
    if (event.type !== 'KeyMaterialStored') return;
    const d = event.data as KeyMaterialStoredData;
    const keyData = d.sealedKeyData ? await secrets.open(db, d.sealedKeyData, { federationId: d.federationId, serial: d.serial }) : d.keyData;
    if (keyData === undefined) return;
    db.defer(
      planOnce(`INSERT INTO key_material (federation_id, serial, key_data, encryption_algorithms, raw_encryption_algorithms, stored_at)
       VALUES ($1, $2, $3, $4::text[], $5::jsonb, $6)`),
      [d.federationId, d.serial, keyData, d.encryptionAlgorithms, d.rawEncryptionAlgorithms === undefined ? null : JSON.stringify(d.rawEncryptionAlgorithms), d.storedAt],
    );
  },
};

import { streamVersionSql } from '@p2/event-store';
import type { Reader } from '../reader';

/** One stored item of encrypted private key material (docs/protocol.md#key-material). */
export interface KeyMaterialRow {
  readonly serial: string;
  readonly keyData: string;
  /** dotted OIDs; empty when the client named none */
  readonly encryptionAlgorithms: string[];
}

/** The actor's items, by serial; only those of `serials` when given. */
export async function keyMaterialItems(db: Reader, federationId: string, serials?: readonly string[]): Promise<KeyMaterialRow[]> {
  const params: unknown[] = [federationId];
  let where = 'federation_id = $1';
  if (serials) where += ` AND serial = ANY($${params.push(serials)}::numeric[])`;
  const rows: { serial: string; key_data: string; encryption_algorithms: string[] }[] = await db.query(
    `SELECT serial::text AS serial, key_data, encryption_algorithms FROM key_material WHERE ${where} ORDER BY key_material.serial`,
    params,
  );
  return rows.map((r) => ({ serial: r.serial, keyData: r.key_data, encryptionAlgorithms: r.encryption_algorithms }));
}

/** What a key material decision reads: the stream's version, the serials stored (the key_material
 * table equals the fold of the stream and does not grow with its history), and which of `serials`
 * are certificates of the actor. */
export interface KeyMaterialFacts {
  readonly version: number;
  readonly stored: ReadonlySet<string>;
  readonly ownSerials: ReadonlySet<string>;
}

/** {@link KeyMaterialFacts} of the actor's `streamId`, in one statement (one snapshot). */
export async function keyMaterialFacts(db: Reader, streamId: string, federationId: string, serials: readonly string[]): Promise<KeyMaterialFacts> {
  const [row]: { version: number; stored: string[]; own: string[] }[] = await db.query(
    `SELECT ${streamVersionSql('$1')} AS version,
            ARRAY(SELECT serial::text FROM key_material WHERE federation_id = $2) AS stored,
            ARRAY(SELECT serial::text FROM id_certs WHERE federation_id = $2 AND serial = ANY($3::numeric[])) AS own`,
    [streamId, federationId, serials],
  );
  return { version: row!.version, stored: new Set(row!.stored), ownSerials: new Set(row!.own) };
}

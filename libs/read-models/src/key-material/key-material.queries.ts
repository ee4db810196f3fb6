import { planOnce, streamVersionSql } from '@p2/event-store';
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
  /** undefined when the version is the `knownVersion` the caller holds the state of */
  readonly stored: ReadonlySet<string> | undefined;
  readonly ownSerials: ReadonlySet<string>;
}

/**
 * {@link KeyMaterialFacts} of the actor's `streamId`, in one statement (one snapshot). A caller
 * that holds the stored serials as of `knownVersion` gets them read only when the stream moved
 * past it: reading them costs a heap page per item on every store. The version is a materialized
 * CTE so that it is computed once, for the comparison and for the answer.
 */
export async function keyMaterialFacts(
  db: Reader,
  streamId: string,
  federationId: string,
  serials: readonly string[],
  knownVersion = -1,
): Promise<KeyMaterialFacts> {
  const [row]: { version: number; stored: string[] | null; own: string[] }[] = await db.query(
    planOnce(`WITH v AS MATERIALIZED (SELECT ${streamVersionSql('$1')} AS version)
     SELECT v.version,
            CASE WHEN v.version = $4 THEN NULL ELSE ARRAY(SELECT serial::text FROM key_material WHERE federation_id = $2) END AS stored,
            ARRAY(SELECT serial::text FROM id_certs WHERE federation_id = $2 AND serial = ANY($3::numeric[])) AS own
       FROM v`),
    [streamId, federationId, serials, knownVersion],
  );
  return { version: row!.version, stored: row!.stored === null ? undefined : new Set(row!.stored), ownSerials: new Set(row!.own) };
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The read model of encrypted private key material (docs/protocol.md#key-material): at most one item per
 * (actor, serial), the serial one of the actor's ID-Certs. key_data is client-side encrypted. */
export class KeyMaterial1764400000000 implements MigrationInterface {
  name = 'KeyMaterial1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE key_material (
        federation_id text NOT NULL REFERENCES actors (federation_id),
        serial numeric(20) NOT NULL REFERENCES id_certs (serial),
        key_data text NOT NULL,
        -- dotted OIDs, last applied first; empty when the client named none
        encryption_algorithms text[] NOT NULL,
        -- the algorithms exactly as the client sent them (OID strings or DER byte arrays)
        raw_encryption_algorithms jsonb,
        stored_at timestamptz NOT NULL,
        PRIMARY KEY (federation_id, serial)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS key_material`);
  }
}

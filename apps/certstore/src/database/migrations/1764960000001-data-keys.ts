import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Data keys of the secrets events carry (docs/architecture.md#crypto-shredding): one per stored key
 * material item, wrapped with a key derived from P2_KEY_ENCRYPTION_KEY. Beside the log, not derived
 * from it: a rebuild keeps it, and deleting an item deletes its row, which leaves the item's
 * ciphertext in the log and on the events topic unreadable. Events written before this table
 * (schema version 1) are left as they are. */
export class DataKeys1764960000001 implements MigrationInterface {
  name = 'DataKeys1764960000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE data_keys (
        key_id uuid PRIMARY KEY,
        federation_id text NOT NULL,
        serial numeric NOT NULL,
        wrapped_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX data_keys_owner ON data_keys (federation_id, serial)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS data_keys`);
  }
}

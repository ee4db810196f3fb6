import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The certstore's public X25519 key for sealed credentials (docs/architecture.md#sealed-credentials):
 * each certstore records it at start; gateways and p2ctl seal password hashes to the newest one. */
export class CredentialSealKeys1764930000000 implements MigrationInterface {
  name = 'CredentialSealKeys1764930000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE credential_seal_keys (
        public_key text PRIMARY KEY,
        recorded_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS credential_seal_keys`);
  }
}

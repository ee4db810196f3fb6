import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Federation (docs/protocol.md#federation-cache): other home servers' roots, their actors' certs as
 * their home servers vouched for them, and the cert each foreign session uses — projections of the
 * foreign-server and foreign-session streams. Tokens of foreign sessions join session_tokens, with
 * no cert serial of this server (is_foreign). Foreign serials may be up to 20 octets (49 digits).
 */
export class Federation1764800000000 implements MigrationInterface {
  name = 'Federation1764800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE foreign_server_certs (
        domain text NOT NULL,
        serial numeric(49) NOT NULL,
        pem text NOT NULL,
        public_key text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        is_current boolean NOT NULL,
        cache_until timestamptz NOT NULL,
        fetched_at timestamptz NOT NULL,
        superseded_at timestamptz,
        PRIMARY KEY (domain, serial)
      )`);
    await q.query(`CREATE UNIQUE INDEX foreign_server_certs_current_idx ON foreign_server_certs (domain) WHERE is_current`);
    // keyed by session: a home server could give two sessions certs with one serial, and each
    // session's stream must own its own rows
    await q.query(`
      CREATE TABLE foreign_id_certs (
        federation_id text NOT NULL,
        session_id text NOT NULL,
        serial numeric(49) NOT NULL,
        issuer_domain text NOT NULL,
        pem text NOT NULL,
        public_key text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        root_serial numeric(49) NOT NULL,
        invalidated_at timestamptz,
        cache_not_valid_before bigint,
        cache_not_valid_after bigint,
        cache_signature text,
        cache_until timestamptz NOT NULL,
        checked_at timestamptz NOT NULL,
        PRIMARY KEY (federation_id, session_id, serial)
      )`);
    await q.query(`CREATE INDEX foreign_id_certs_checked_idx ON foreign_id_certs (checked_at)`);
    await q.query(`
      CREATE TABLE foreign_sessions (
        federation_id text NOT NULL,
        session_id text NOT NULL,
        current_serial numeric(49) NOT NULL,
        identified_at timestamptz NOT NULL,
        PRIMARY KEY (federation_id, session_id)
      )`);
    await q.query(`ALTER TABLE session_tokens ALTER COLUMN cert_serial DROP NOT NULL`);
    await q.query(`ALTER TABLE session_tokens ADD COLUMN is_foreign boolean NOT NULL DEFAULT false`);
    await q.query(`ALTER TABLE session_tokens ADD CONSTRAINT session_tokens_cert_kind CHECK (is_foreign = (cert_serial IS NULL))`);
    // one live token per foreign session, as one per cert for this server's own sessions
    await q.query(`CREATE UNIQUE INDEX session_tokens_foreign_session_idx ON session_tokens (federation_id, session_id) WHERE is_foreign`);
    await q.query(`ALTER TABLE challenges ALTER COLUMN consumed_by_serial TYPE numeric(49)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE challenges ALTER COLUMN consumed_by_serial TYPE numeric(20)`);
    await q.query(`DELETE FROM session_tokens WHERE is_foreign`);
    await q.query(`DROP INDEX IF EXISTS session_tokens_foreign_session_idx`);
    await q.query(`ALTER TABLE session_tokens DROP CONSTRAINT IF EXISTS session_tokens_cert_kind`);
    await q.query(`ALTER TABLE session_tokens DROP COLUMN IF EXISTS is_foreign`);
    await q.query(`ALTER TABLE session_tokens ALTER COLUMN cert_serial SET NOT NULL`);
    for (const table of ['foreign_sessions', 'foreign_id_certs', 'foreign_server_certs']) await q.query(`DROP TABLE IF EXISTS ${table}`);
  }
}

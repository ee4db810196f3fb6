import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The KeyPackages read model (docs/protocol.md#key-packages). Every package ever stored stays, claimed
 * or retired, so that init_key is unique over all of them for good. */
export class KeyPackages1764500000000 implements MigrationInterface {
  name = 'KeyPackages1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE key_packages (
        -- base64 of the key bytes, normalised; unique over the whole server, every actor, forever
        init_key text NOT NULL,
        federation_id text NOT NULL REFERENCES actors (federation_id),
        session_id text NOT NULL,
        -- the ID-Cert the package is bound to: handed out only while it is the session's valid cert
        cert_serial numeric(20) NOT NULL REFERENCES id_certs (serial),
        last_resort boolean NOT NULL,
        protocol_version text NOT NULL,
        cipher_suite text NOT NULL,
        leaf_node text NOT NULL,
        extensions jsonb NOT NULL,
        -- position of the adding event in the actor's keypackages stream, and of the package in it:
        -- regular packages are handed out oldest first
        added_position integer NOT NULL,
        added_index integer NOT NULL,
        added_at timestamptz NOT NULL,
        -- regular packages: handed out (then never again)
        claimed_at timestamptz,
        -- last resort: replaced by a newer one of the session
        retired_at timestamptz,
        -- last resort: how often and when last it was handed out ("used" = served_count > 0)
        served_count integer NOT NULL DEFAULT 0,
        last_served_at timestamptz,
        CONSTRAINT key_packages_init_key_key PRIMARY KEY (init_key),
        CONSTRAINT key_packages_kind_check CHECK (
          (last_resort AND claimed_at IS NULL) OR (NOT last_resort AND retired_at IS NULL AND served_count = 0 AND last_served_at IS NULL)
        )
      )`);
    // what is left to hand out, per cert, in order
    await q.query(`
      CREATE INDEX key_packages_stock_idx ON key_packages (federation_id, cert_serial, added_position, added_index)
        WHERE claimed_at IS NULL AND retired_at IS NULL`);
    await q.query(`
      CREATE UNIQUE INDEX key_packages_one_last_resort_idx ON key_packages (federation_id, session_id)
        WHERE last_resort AND retired_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS key_packages`);
  }
}

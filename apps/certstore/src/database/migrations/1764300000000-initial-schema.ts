import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The event store, the idempotency table, the relay checkpoint, the secret side tables and the
 * first read models. Reviewed SQL; the schema is never synchronised from entities. */
export class InitialSchema1764300000000 implements MigrationInterface {
  name = 'InitialSchema1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        stream_id text NOT NULL,
        stream_position integer NOT NULL CHECK (stream_position > 0),
        type text NOT NULL,
        schema_version integer NOT NULL DEFAULT 1,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        -- readers of the whole log order by (transaction_id, global_position) and stop below the
        -- oldest running transaction, so an event that commits late is never skipped
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        CONSTRAINT events_stream_id_stream_position_key UNIQUE (stream_id, stream_position)
      )`);
    await q.query(`CREATE INDEX events_transaction_order_idx ON events (transaction_id, global_position)`);
    await q.query(`
      CREATE TABLE processed_commands (
        consumer text NOT NULL,
        command_id text NOT NULL,
        command_type text NOT NULL,
        outcome jsonb NOT NULL,
        processed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (consumer, command_id)
      )`);
    await q.query(`
      CREATE TABLE relay_checkpoints (
        name text PRIMARY KEY,
        transaction_id xid8 NOT NULL,
        global_position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Secrets live beside the log, never in it: the encrypted server keys and password hashes.
    await q.query(`
      CREATE TABLE server_keys (
        serial numeric(20) PRIMARY KEY,
        encrypted_private_key text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE actor_credentials (
        federation_id text PRIMARY KEY,
        password_hash text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Read models (inline projections, rebuilt from events by `npm run projections:rebuild`).
    await q.query(`
      CREATE TABLE issued_serials (
        serial numeric(20) PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('root', 'actor'))
      )`);
    await q.query(`
      CREATE TABLE server_certs (
        serial numeric(20) PRIMARY KEY,
        pem text NOT NULL,
        public_key text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        active_from timestamptz NOT NULL,
        active_until timestamptz
      )`);
    await q.query(`CREATE UNIQUE INDEX server_certs_one_active_idx ON server_certs ((true)) WHERE active_until IS NULL`);
    await q.query(`
      CREATE TABLE actors (
        federation_id text PRIMARY KEY,
        local_name text NOT NULL UNIQUE,
        registered_at timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE id_certs (
        serial numeric(20) PRIMARY KEY,
        federation_id text NOT NULL REFERENCES actors (federation_id),
        session_id text NOT NULL,
        pem text NOT NULL,
        public_key text NOT NULL,
        not_before timestamptz NOT NULL,
        not_after timestamptz NOT NULL,
        issued_at timestamptz NOT NULL,
        invalidated_at timestamptz,
        root_serial numeric(20) NOT NULL REFERENCES server_certs (serial)
      )`);
    await q.query(`CREATE INDEX id_certs_actor_session_idx ON id_certs (federation_id, session_id, issued_at)`);
    await q.query(`
      CREATE TABLE session_tokens (
        token_hash text PRIMARY KEY,
        federation_id text NOT NULL,
        session_id text NOT NULL,
        -- deferred: SessionOpened precedes IdCertIssued in one transaction
        cert_serial numeric(20) NOT NULL UNIQUE REFERENCES id_certs (serial) DEFERRABLE INITIALLY DEFERRED,
        created_at timestamptz NOT NULL
      )`);
    // 2025 cache information (docs/protocol.md#cache-information), signed by the certstore (the key holder) for a window;
    // refreshed before it runs out, re-signed when a cert is invalidated. Not a projection: it
    // cannot be derived from the log without the key.
    await q.query(`
      CREATE TABLE cache_signatures (
        serial numeric(20) NOT NULL,
        cache_not_valid_before bigint NOT NULL,
        cache_not_valid_after bigint NOT NULL,
        invalidated_at bigint,
        signature text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (serial, cache_not_valid_before)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of [
      'cache_signatures',
      'session_tokens',
      'id_certs',
      'actors',
      'server_certs',
      'issued_serials',
      'actor_credentials',
      'server_keys',
      'relay_checkpoints',
      'processed_commands',
      'events',
    ]) {
      await q.query(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}

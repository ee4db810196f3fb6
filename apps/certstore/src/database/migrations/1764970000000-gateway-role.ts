import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The gateway's database role (docs/architecture.md#database-roles): `<database>_gateway`, LOGIN,
 * SELECT on the read models the gateway serves and nothing else. It cannot read the event log, the
 * server's encrypted key, the wrapped data keys of key material, the processed commands, the consumed
 * challenges, the relay checkpoints or the issued serials, and it can write nothing: a gateway taken
 * over reads what its routes already answer (and the password hashes it checks), no more.
 *
 * One role per database, because roles belong to the whole PostgreSQL server: a shared name would
 * let the gateway of one home server (or test cluster) read another's tables. Creating it tolerates
 * the role already existing (a database of the same name dropped and made again, or two migrations
 * racing on one server): the attributes and grants below are then set again from scratch.
 *
 * A table added later is readable by the gateway only when its own migration grants it; what the
 * gateway may read is pinned by test/database-roles.e2e-spec.ts.
 */
const GATEWAY_READ_MODELS = [
  'actors',
  'actor_credentials',
  'credential_seal_keys',
  'id_certs',
  'session_tokens',
  'server_certs',
  'cache_signatures',
  'key_material',
  'key_packages',
  'session_inbox',
  'session_inbox_cursors',
  'foreign_server_certs',
  'foreign_id_certs',
  'foreign_sessions',
] as const;

export class GatewayRole1764970000000 implements MigrationInterface {
  name = 'GatewayRole1764970000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$
      DECLARE
        gateway text := left(current_database() || '_gateway', 63);
        read_model text;
      BEGIN
        BEGIN
          EXECUTE format('CREATE ROLE %I LOGIN', gateway);
        EXCEPTION
          -- duplicate_object: it exists; unique_violation: another server process created it at the same moment
          WHEN duplicate_object OR unique_violation THEN NULL;
        END;
        EXECUTE format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS', gateway);
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', gateway);
        EXECUTE format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM %I', gateway);
        EXECUTE format('REVOKE CREATE ON SCHEMA public FROM %I', gateway);
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), gateway);
        EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', gateway);
        -- a read model a later release drops (its migration may run before this one on a new database) is skipped
        FOREACH read_model IN ARRAY ARRAY['${GATEWAY_READ_MODELS.join("', '")}'] LOOP
          IF to_regclass('public.' || read_model) IS NOT NULL THEN
            EXECUTE format('GRANT SELECT ON public.%I TO %I', read_model, gateway);
          END IF;
        END LOOP;
        -- PostgreSQL's own defaults, restated in case an earlier grant changed them: tables made
        -- later are nobody's but their owner's, and nobody else creates tables or temporary tables here.
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM PUBLIC, %I', gateway);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM PUBLIC, %I', gateway);
        REVOKE CREATE ON SCHEMA public FROM PUBLIC;
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
      END
      $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    // the role itself stays: it may hold connections, and DROP DATABASE's caller removes it (dropDatabase)
    await q.query(`
      DO $$
      BEGIN
        EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA public FROM %I', left(current_database() || '_gateway', 63));
      END
      $$`);
  }
}

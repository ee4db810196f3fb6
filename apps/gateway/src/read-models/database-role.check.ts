import { Injectable } from '@nestjs/common';
import { ReadDatabase } from './read-database';

/** Tables the gateway must not even read: the event log (every payload, and the command ids once
 * published in it), the server's encrypted key, the wrapped data keys of key material, the processed
 * commands' outcomes, the consumed challenges, the relay's checkpoints and the issued serials. */
const CERTSTORE_PRIVATE_TABLES = ['events', 'server_keys', 'data_keys', 'processed_commands', 'consumed_challenges', 'relay_checkpoints', 'issued_serials'];

/** The gateway was given a database role that can do more than read the read models it serves. */
export class DatabaseRoleTooBroadError extends Error {
  readonly code = 'GATEWAY_DATABASE_ROLE_TOO_BROAD';
  constructor(
    readonly role: string,
    readonly problems: readonly string[],
  ) {
    super(
      `the gateway refuses to run as database role "${role}": ${problems.join('; ')}. ` +
        `Give the gateway a DATABASE_URL for the role the migrations create, <database>_gateway (docs/architecture.md#database-roles).`,
    );
    this.name = 'DatabaseRoleTooBroadError';
  }
}

interface RoleFacts {
  role: string;
  superuser: boolean;
  bypass_rls: boolean;
  creates: boolean;
  migrated: boolean;
  writable: string[];
  private_readable: string[];
}

/**
 * Checked once at start-up, before the gateway serves anything: it must run as a role that can read
 * the read models and nothing more (docs/architecture.md#database-roles). A gateway given the
 * migrating role's URL by mistake would work, and the separation would be gone without anyone
 * noticing; refusing makes the mistake loud.
 */
@Injectable()
export class DatabaseRoleCheck {
  constructor(private readonly db: ReadDatabase) {}

  async assertReadOnly(): Promise<void> {
    const [facts] = await this.db.query<RoleFacts[]>(
      `SELECT current_user AS role,
              r.rolsuper AS superuser,
              r.rolbypassrls AS bypass_rls,
              has_database_privilege(current_database(), 'CREATE') OR has_schema_privilege('public', 'CREATE') AS creates,
              to_regclass('public.events') IS NOT NULL AS migrated,
              coalesce(array_agg(c.relname::text ORDER BY c.relname) FILTER (WHERE has_table_privilege(c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE')), '{}') AS writable,
              coalesce(array_agg(c.relname::text ORDER BY c.relname) FILTER (WHERE c.relname = ANY($1::text[]) AND has_table_privilege(c.oid, 'SELECT')), '{}') AS private_readable
         FROM pg_roles r
         LEFT JOIN pg_class c ON c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
        WHERE r.rolname = current_user
        GROUP BY r.rolname, r.rolsuper, r.rolbypassrls`,
      [CERTSTORE_PRIVATE_TABLES],
    );
    if (!facts) throw new DatabaseRoleTooBroadError('?', ['its role is not in pg_roles']);
    const problems: string[] = [];
    if (facts.superuser) problems.push('it is a superuser');
    if (facts.bypass_rls) problems.push('it bypasses row-level security');
    if (facts.creates) problems.push('it may create schemas or tables');
    if (facts.writable.length > 0) problems.push(`it may write ${facts.writable.join(', ')}`);
    if (facts.private_readable.length > 0) problems.push(`it may read the certstore's ${facts.private_readable.join(', ')}`);
    if (!facts.migrated && problems.length === 0) problems.push('the database has no schema yet (run the migrations first: npm run migrate, or start a certstore)');
    if (problems.length > 0) throw new DatabaseRoleTooBroadError(facts.role, problems);
  }
}

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';

/** TypeORM options for both apps: raw SQL against reviewed migrations, never `synchronize`. */
export function dataSourceOptions(databaseUrl: string, extra: Partial<DataSourceOptions> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url: databaseUrl,
    synchronize: false,
    migrationsRun: false,
    entities: [],
    // TypeORM's error logging prints query parameters (password hashes, token hashes): never on.
    logging: false,
    extra: { max: 10, connectionTimeoutMillis: 3000, statement_timeout: 15000 },
    ...extra,
  } as DataSourceOptions;
}

/** Creates the database named in `databaseUrl` when it does not exist yet. */
export async function ensureDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!/^[a-zA-Z0-9_-]{1,63}$/.test(name)) throw new Error(`DATABASE_URL names an unusable database "${name}"`);
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created concurrently by another process
      });
    }
  } finally {
    await client.end();
  }
}

/** Drops a database (tests only): terminates leftover connections first. Its gateway role goes too
 * (roles belong to the whole server; once the database is gone the role holds nothing). */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`DROP ROLE IF EXISTS "${gatewayRoleName(databaseUrl)}"`).catch((error: { code?: string }) => {
      // 2BP01: it still holds privileges somewhere else (granted by hand): leave it to its owner
      if (error.code !== '2BP01') throw error;
    });
  } finally {
    await client.end();
  }
}

/** Longest PostgreSQL identifier (NAMEDATALEN - 1 bytes); longer names are cut to it. */
const MAX_IDENTIFIER_BYTES = 63;

/**
 * The database role the gateway connects as: `<database>_gateway`, created by the migrations with
 * SELECT on the read models the gateway serves and nothing else (docs/architecture.md#database-roles).
 * One per database, not one per server: roles are shared by every database of a server, and a
 * shared gateway role would read the read models of every home server (or test cluster) there.
 * Kept equal to the name the migration computes in SQL (`left(current_database() || '_gateway', 63)`).
 */
export function gatewayRoleName(databaseUrl: string): string {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  return `${database}_gateway`.slice(0, MAX_IDENTIFIER_BYTES);
}

/** The gateway's connection URL for the database of `ownerUrl` (the migrating role's URL): the same
 * server and database as the gateway role, with `password` when PostgreSQL asks for one. The owner's
 * credentials are not carried over. */
export function gatewayDatabaseUrl(ownerUrl: string, password?: string): string {
  const url = new URL(ownerUrl);
  url.username = encodeURIComponent(gatewayRoleName(ownerUrl));
  url.password = password === undefined ? '' : encodeURIComponent(password);
  return url.toString();
}

/** PostgreSQL's own iteration count for SCRAM-SHA-256 (scram_iterations). */
const SCRAM_ITERATIONS = 4096;

/**
 * A SCRAM-SHA-256 verifier of `password` in the form PostgreSQL stores (RFC 5802, RFC 7677):
 * `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`. Given to ALTER ROLE … PASSWORD in
 * place of the password, so that the password is never in a statement PostgreSQL could log. The
 * password must be ASCII (SASLprep leaves printable ASCII unchanged).
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, SCRAM_ITERATIONS, 32, 'sha256');
  const storedKey = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${SCRAM_ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

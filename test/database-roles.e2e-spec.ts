import { createHash, createHmac, pbkdf2Sync, timingSafeEqual } from 'node:crypto';
import { Client } from 'pg';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, gatewayRoleName, scramSha256Verifier } from '@p2/platform';
import { createTestDatabase } from '@p2/testing';
import { migrateDatabase } from '../apps/certstore/src/database/migrations';
import { TestCluster } from './support/cluster';
import { http } from './support/http';

/** What the gateway's role may read: the read models its routes serve, and the password hashes and
 * seal key its sign-in and registration need. A table added later joins only through a migration's
 * GRANT and this list (docs/architecture.md#database-roles). */
const GATEWAY_READABLE = [
  'actor_credentials',
  'actors',
  'cache_signatures',
  'credential_seal_keys',
  'foreign_id_certs',
  'foreign_server_certs',
  'foreign_sessions',
  'id_certs',
  'key_material',
  'key_packages',
  'server_certs',
  'session_inbox',
  'session_inbox_cursors',
  'session_tokens',
];
const CERTSTORE_PRIVATE = ['consumed_challenges', 'data_keys', 'events', 'issued_serials', 'processed_commands', 'relay_checkpoints', 'server_keys'];

const PERMISSION_DENIED = '42501';

/** The error code of `sql` run as `db`, or 'ok' when it ran. */
async function outcome(db: Client, sql: string): Promise<string> {
  try {
    await db.query(sql);
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

/** The gateway runs as `<database>_gateway`, a role that can read the read models it serves and
 * nothing else, and can write nothing (docs/architecture.md#database-roles). */
describe('database roles', () => {
  let cluster: TestCluster;
  let owner: Client;
  let gateway: Client;
  let tables: string[];

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'dbroles' });
    owner = new Client({ connectionString: cluster.databaseUrl });
    await owner.connect();
    gateway = new Client({ connectionString: cluster.gatewayDatabaseUrl });
    await gateway.connect();
    tables = (await owner.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1`)).rows.map((r) => r.name);
  });

  afterAll(async () => {
    await gateway?.end();
    await owner?.end();
    await cluster?.stop();
  });

  it('the role is named after the database and holds no attributes beyond LOGIN', async () => {
    const role = gatewayRoleName(cluster.databaseUrl);
    expect(role).toBe(`${new URL(cluster.databaseUrl).pathname.slice(1)}_gateway`);
    expect((await gateway.query('SELECT current_user AS u')).rows[0].u).toBe(role);
    const { rows } = await owner.query('SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = $1', [role]);
    expect(rows).toEqual([{ rolcanlogin: true, rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false }]);
  });

  it('reads exactly the read models the gateway serves', async () => {
    const role = gatewayRoleName(cluster.databaseUrl);
    const { rows } = await owner.query<{ name: string }>(
      `SELECT c.relname AS name FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
          AND has_table_privilege($1, c.oid, 'SELECT') ORDER BY 1`,
      [role],
    );
    expect(rows.map((r) => r.name)).toEqual(GATEWAY_READABLE);
    for (const table of GATEWAY_READABLE) expect(await outcome(gateway, `SELECT * FROM ${table} LIMIT 1`)).toBe('ok');
  });

  it("cannot SELECT the event log, the server's key, the data keys, the processed commands or the certstore's other tables", async () => {
    expect(tables).toEqual(expect.arrayContaining(CERTSTORE_PRIVATE));
    const results: Record<string, string> = {};
    for (const table of CERTSTORE_PRIVATE) results[table] = await outcome(gateway, `SELECT * FROM ${table} LIMIT 1`);
    expect(results).toEqual(Object.fromEntries(CERTSTORE_PRIVATE.map((t) => [t, PERMISSION_DENIED])));
  });

  it('cannot INSERT, UPDATE, DELETE or TRUNCATE any table', async () => {
    expect(tables.length).toBeGreaterThanOrEqual(GATEWAY_READABLE.length + CERTSTORE_PRIVATE.length);
    const results: Record<string, string> = {};
    for (const table of tables) {
      const column = (await owner.query<{ name: string }>("SELECT column_name AS name FROM information_schema.columns WHERE table_name = $1 AND is_identity = 'NO' AND is_generated = 'NEVER' ORDER BY ordinal_position LIMIT 1", [table])).rows[0]!.name;
      results[`INSERT ${table}`] = await outcome(gateway, `INSERT INTO ${table} DEFAULT VALUES`);
      results[`UPDATE ${table}`] = await outcome(gateway, `UPDATE ${table} SET ${column} = ${column}`);
      results[`DELETE ${table}`] = await outcome(gateway, `DELETE FROM ${table}`);
      results[`TRUNCATE ${table}`] = await outcome(gateway, `TRUNCATE ${table}`);
    }
    expect(Object.entries(results).filter(([, code]) => code !== PERMISSION_DENIED)).toEqual([]);
  });

  it('cannot create tables, temporary ones included', async () => {
    expect(await outcome(gateway, 'CREATE TABLE gateway_was_here (x int)')).toBe(PERMISSION_DENIED);
    expect(await outcome(gateway, 'CREATE TEMPORARY TABLE gateway_was_here (x int)')).toBe(PERMISSION_DENIED);
    expect(await outcome(gateway, 'CREATE SCHEMA gateway_was_here')).toBe(PERMISSION_DENIED);
  });

  it('cannot read a table made after the migrations unless a migration grants it', async () => {
    await owner.query('CREATE TABLE later_private_table (secret text)');
    try {
      expect(await outcome(gateway, 'SELECT * FROM later_private_table')).toBe(PERMISSION_DENIED);
    } finally {
      await owner.query('DROP TABLE later_private_table');
    }
  });

  it("the running gateway's connections are all the gateway role's", async () => {
    const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
    // a route that reads (the root cert) and one that authenticates against the read models
    expect((await http('GET', api('/idcert/server'))).status).toBe(200);
    expect((await http('POST', api('/register'), { json: { actor_name: 'rhea', auth_payload: { password: 'a password of rhea' } } })).status).toBe(201);
    const instance = cluster.gatewayApp(0).get<AppConfig>(APP_CONFIG).instanceId;
    const { rows } = await owner.query<{ usename: string }>('SELECT usename FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1', [`p2-gateway:${instance}`]);
    expect(rows.length).toBeGreaterThan(0);
    expect([...new Set(rows.map((r) => r.usename))]).toEqual([gatewayRoleName(cluster.databaseUrl)]);
  });

  it('a gateway given the migrating role refuses to start, naming what that role can do', async () => {
    await expect(cluster.addGateway({ DATABASE_URL: cluster.databaseUrl })).rejects.toMatchObject({
      code: 'GATEWAY_DATABASE_ROLE_TOO_BROAD',
      message: expect.stringMatching(/superuser.*write .*events.*read the certstore's .*data_keys, events, .*server_keys/s),
    });
  });

  it('a gateway whose role was granted more (a write, the event log) refuses to start', async () => {
    const role = gatewayRoleName(cluster.databaseUrl);
    await owner.query(`GRANT INSERT ON session_tokens TO "${role}"`);
    await owner.query(`GRANT SELECT ON events TO "${role}"`);
    try {
      await expect(cluster.addGateway()).rejects.toMatchObject({ code: 'GATEWAY_DATABASE_ROLE_TOO_BROAD', message: expect.stringMatching(/write session_tokens.*read the certstore's events/s) });
    } finally {
      await owner.query(`REVOKE INSERT ON session_tokens FROM "${role}"`);
      await owner.query(`REVOKE SELECT ON events FROM "${role}"`);
    }
    // and with the grants gone it starts again
    const url = await cluster.addGateway();
    expect((await http('GET', `${url}/healthz`)).status).toBe(200);
  });
});

describe('gateway role password', () => {
  it("migrations store P2_GATEWAY_DB_PASSWORD as a SCRAM-SHA-256 verifier, never the password, and the role's grants survive a second run", async () => {
    const db = await createTestDatabase('dbrolepw');
    const owner = new Client({ connectionString: db.url });
    try {
      const password = 'gw-password-0123456789abcdef';
      await migrateDatabase(db.url, () => undefined, { gatewayPassword: password });
      await owner.connect();
      const role = gatewayRoleName(db.url);
      const stored = (await owner.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [role])).rows[0]!.p;
      // PostgreSQL keeps a value it parses as a verifier as it is, and hashes anything else
      expect(stored).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
      expect(stored).not.toContain(password);
      expect(scramProves(stored, password)).toBe(true);
      expect(scramProves(stored, `${password}x`)).toBe(false);
      await migrateDatabase(db.url, () => undefined, { gatewayPassword: `${password}-2` });
      const again = (await owner.query<{ p: string }>('SELECT rolpassword AS p FROM pg_authid WHERE rolname = $1', [role])).rows[0]!.p;
      expect(scramProves(again, `${password}-2`)).toBe(true);
      expect((await owner.query(`SELECT has_table_privilege($1, 'actors', 'SELECT') AS r`, [role])).rows[0].r).toBe(true);
    } finally {
      await owner.end().catch(() => undefined);
      await db.drop();
    }
  });

  it("a verifier passes RFC 7677's example exchange (user \"user\", password \"pencil\")", () => {
    const verifier = scramSha256Verifier('pencil', Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'));
    const nonce = 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0';
    const authMessage = `n=user,r=rOprNGfwEbeRWgbNEkqO,r=${nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=${nonce}`;
    const server = scramServer(verifier);
    expect(server.accepts(authMessage, Buffer.from('dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=', 'base64'))).toBe(true);
    expect(server.signature(authMessage).toString('base64')).toBe('6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=');
  });
});

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const xor = (a: Buffer, b: Buffer): Buffer => Buffer.from(a.map((byte, i) => byte ^ b[i]!));

/** PostgreSQL's side of a SCRAM-SHA-256 login, from the stored verifier alone (RFC 5802 §3): a
 * client proof is accepted when the ClientKey it reveals hashes to StoredKey. */
function scramServer(verifier: string): { accepts(authMessage: string, proof: Buffer): boolean; signature(authMessage: string): Buffer } {
  const [, , , storedKey, serverKey] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier) ?? [];
  if (!storedKey || !serverKey) throw new Error(`not a SCRAM-SHA-256 verifier: ${verifier}`);
  const stored = Buffer.from(storedKey, 'base64');
  return {
    accepts: (authMessage, proof) => timingSafeEqual(createHash('sha256').update(xor(proof, hmac(stored, authMessage))).digest(), stored),
    signature: (authMessage) => hmac(Buffer.from(serverKey, 'base64'), authMessage),
  };
}

/** Whether a client that knows `password` would log in against `verifier`: the client's proof, made
 * as a client makes it (from the password, the salt and the iterations the server announces). */
function scramProves(verifier: string, password: string): boolean {
  const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(verifier) ?? [];
  const authMessage = `n=*,r=c,r=cs,s=${salt},i=${iterations},c=biws,r=cs`;
  const salted = pbkdf2Sync(password, Buffer.from(salt!, 'base64'), Number(iterations), 32, 'sha256');
  const clientKey = hmac(salted, 'Client Key');
  const proof = xor(clientKey, hmac(createHash('sha256').update(clientKey).digest(), authMessage));
  const server = scramServer(verifier);
  return server.accepts(authMessage, proof) && timingSafeEqual(server.signature(authMessage), hmac(hmac(salted, 'Server Key'), authMessage));
}

import { randomBytes, scryptSync } from 'node:crypto';
import { Client } from 'pg';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http } from './support/http';
import { opensslCsr } from './support/openssl';

/** Hashes of weaker parameters are replaced at the next successful login, through the OpenSession
 * command (docs/architecture.md#password-hashing). The cluster hashes at the default cost. */
describe('password rehash at login (scrypt N = 2^17)', () => {
  const password = 'correct horse battery staple';
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  const storedHash = async (fid: string): Promise<string> =>
    (await db.query<{ password_hash: string }>('SELECT password_hash FROM actor_credentials WHERE federation_id = $1', [fid])).rows[0]!.password_hash;
  const trust = (name: string, sessionId: string, pw = password) =>
    http('POST', api('/session/trust'), { json: { actor_name: name, csr: opensslCsr({ localName: name, domain: 'example.com', sessionId }).csrPem, auth_payload: { password: pw } } });

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'rehash', env: { P2_PASSWORD_SCRYPT_COST: '17' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  it('registers with N = 2^17, r = 8, p = 1', async () => {
    expect((await http('POST', api('/register'), { json: { actor_name: 'nina', auth_payload: { password } } })).status).toBe(201);
    expect(await storedHash('nina@example.com')).toMatch(/^scrypt\$131072\$8\$1\$/);
  });

  it('an N = 2^14 hash still verifies, and the login that verifies it stores an N = 2^17 hash of the same password', async () => {
    expect((await http('POST', api('/register'), { json: { actor_name: 'olaf', auth_payload: { password } } })).status).toBe(201);
    const salt = randomBytes(16);
    const legacy = ['scrypt', 16384, 8, 1, salt.toString('base64'), scryptSync(password, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')].join('$');
    await db.query('UPDATE actor_credentials SET password_hash = $2 WHERE federation_id = $1', ['olaf@example.com', legacy]);

    expectErrorBody(await trust('olaf', 'wrong-pw', 'not the password'), 401, 'P2CORE_INVALID_CREDENTIALS');
    expect(await storedHash('olaf@example.com')).toBe(legacy); // a failed login changes nothing

    const first = await trust('olaf', 'first');
    expect(first.status).toBe(201);
    const upgraded = await storedHash('olaf@example.com');
    expect(upgraded).toMatch(/^scrypt\$131072\$8\$1\$/);
    expect(upgraded).not.toBe(legacy);

    // the new hash verifies the same password: a second login and a sensitive action both pass, and it is not hashed again
    const second = await trust('olaf', 'second');
    expect(second.status).toBe(201);
    expect(await storedHash('olaf@example.com')).toBe(upgraded);
    const sensitive = await http('DELETE', `${api('/session')}?session_id=first`, { headers: { authorization: `Bearer ${second.body.token}`, 'x-p2-sensitive-solution': password } });
    expect(sensitive.status).toBe(204);
  });
});

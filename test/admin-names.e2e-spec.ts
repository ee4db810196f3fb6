import { Client } from 'pg';
import { TestCluster } from './support/cluster';
import { CommandProbe, stopWatched, watchCluster } from './support/command-probe';
import { expectErrorBody, http } from './support/http';
import { opensslCsr } from './support/openssl';
import { credentialSealKeyOf, sealedPasswordHash } from './support/sealed-credentials';

const PASSWORD = 'correct horse battery staple';
const ADMIN_PASSWORD = 'the administrator password';

/** The names of P2_ADMINS hold admin rights: POST /register refuses them (the gateway, and the
 * certstore again), and only an operator creates them (p2ctl admins create), on the real broker and database. */
describe('administrator names', () => {
  let cluster: TestCluster;
  let db: Client;
  let probe: CommandProbe;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  const count = async (sql: string) => Number((await db.query(sql)).rows[0].n);
  const written = async () => ({
    events: await count(`SELECT count(*) AS n FROM events`),
    processed: await count(`SELECT count(*) AS n FROM processed_commands`),
    credentials: await count(`SELECT count(*) AS n FROM actor_credentials`),
  });
  const register = (name: string, headers: Record<string, string> = {}) => http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password: PASSWORD } }, headers });

  beforeAll(async () => {
    // an operator may write names in any case and with spaces; they are compared normalised
    cluster = await TestCluster.start({ label: 'adminnames', env: { P2_ADMINS: ' Root , ops' } });
    ({ db, probe } = await watchCluster(cluster));
  });

  afterAll(() => stopWatched({ probe, db, cluster }));

  it('POST /register refuses a name of P2_ADMINS in any case, 403 P2CORE_NAME_RESERVED, and writes nothing', async () => {
    expect((await register('alice')).status).toBe(201);
    const before = await written();
    for (const name of ['root', 'ROOT', 'Root', 'ops', 'OPS']) {
      const res = await register(name);
      expectErrorBody(res, 403, 'P2CORE_NAME_RESERVED');
      expect(res.body.message).toContain(name.toLowerCase());
    }
    // a retry key changes nothing: the name is refused before the command id matters
    expectErrorBody(await register('Root', { 'idempotency-key': 'root-1' }), 403, 'P2CORE_NAME_RESERVED');
    expect(await written()).toEqual(before);
    expect((await db.query(`SELECT federation_id FROM actors ORDER BY federation_id`)).rows).toEqual([{ federation_id: 'alice@example.com' }]);
  });

  it('the certstore refuses a RegisterActor for such a name without an operator mark (a gateway bug, a stray producer)', async () => {
    const before = await written();
    const command = probe.envelope('RegisterActor', { federationId: 'root@example.com', localName: 'root', sealedPasswordHash: sealedPasswordHash(await credentialSealKeyOf(cluster.databaseUrl), 'root@example.com') });
    await probe.send([command]);
    const reply = await probe.replyFor(command.metadata.messageId as string);
    expect(reply).toEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'P2CORE_NAME_RESERVED' }) }));
    const after = await written();
    // the refusal is recorded (a redelivery gets the same answer), nothing else
    expect(after).toEqual({ ...before, processed: before.processed + 1 });
  });

  it("p2ctl admins create run without the cluster's P2_DOMAIN is refused by the certstore and creates no one (it reports the refusal, exit 1)", async () => {
    const before = await written();
    const run = await cluster.p2ctl(['admins', 'create', 'ops'], { P2_DOMAIN: undefined, P2_ADMIN_PASSWORD: ADMIN_PASSWORD });
    expect(run.code).toBe(1);
    expect(run.output.join('\n')).toMatch(/^ops@localhost was not created: P2CORE_INVALID_ACTOR_NAME \(ops@localhost is not an actor name of this server, whose domain is example\.com\.\)$/m);
    expect((await db.query(`SELECT federation_id FROM actors WHERE federation_id LIKE 'ops@%'`)).rows).toEqual([]);
    // the refusal is recorded (a redelivery gets the same answer), nothing else
    expect(await written()).toEqual({ ...before, processed: before.processed + 1 });
  });

  it('p2ctl admins create refuses a password beginning or ending with whitespace as a usage error (exit 2) and sends nothing', async () => {
    const before = await written();
    for (const edged of [` ${ADMIN_PASSWORD}`, `${ADMIN_PASSWORD} `, `${ADMIN_PASSWORD}\t`]) {
      const run = await cluster.p2ctl(['admins', 'create', 'ops'], { P2_ADMIN_PASSWORD: edged });
      expect(run.code).toBe(2);
      expect(run.output.join('\n')).toMatch(/^the password must not begin or end with whitespace .*X-P2-Sensitive-Solution header/m);
    }
    expect((await db.query(`SELECT federation_id FROM actors WHERE federation_id LIKE 'ops@%'`)).rows).toEqual([]);
    expect(await written()).toEqual(before);
  });

  it('p2ctl admins create makes the administrator, who signs in and rotates the server key; /register still refuses the name', async () => {
    await cluster.createAdmin('ROOT', ADMIN_PASSWORD);
    expect((await db.query(`SELECT type FROM events WHERE stream_id = 'actor-root@example.com'`)).rows).toEqual([{ type: 'ActorRegistered' }]);
    // reserved, not "taken": /register does not tell whether the administrator exists
    expectErrorBody(await register('root'), 403, 'P2CORE_NAME_RESERVED');

    const csr = opensslCsr({ localName: 'root', domain: 'example.com', sessionId: 'console' });
    const session = await http('POST', api('/session/trust'), { json: { actor_name: 'root', csr: csr.csrPem, auth_payload: { password: ADMIN_PASSWORD } } });
    expect(session.status).toBe(201);
    const before = await db.query(`SELECT serial::text FROM server_certs WHERE active_until IS NULL`);
    const rotated = await http('PUT', api('/key/server'), { headers: { authorization: `Bearer ${session.body.token}`, 'x-p2-sensitive-solution': ADMIN_PASSWORD } });
    expect(rotated.status).toBe(200);
    const after = await db.query(`SELECT serial::text FROM server_certs WHERE active_until IS NULL`);
    expect(after.rows[0].serial).not.toBe(before.rows[0].serial);
  });
});

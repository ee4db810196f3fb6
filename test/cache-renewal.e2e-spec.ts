import { X509Certificate, verify } from 'node:crypto';
import { Client } from 'pg';
import { CacheSignerService } from '../apps/certstore/src/signing/cache-signer.service';
import { ReadCache } from '../apps/gateway/src/read-cache/read-cache';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http } from './support/http';
import { opensslCsr, opensslVerifySignature } from './support/openssl';

/** Renewal of cache windows after an outage: every live certificate is due, and they are renewed in
 * bounded transactions (docs/protocol.md#cache-information), not all in one. */
describe('cache window renewal in chunks', () => {
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string) => `${cluster.gatewayUrls[0]}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'renewal', gateways: 1, certstores: 1 });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    // the tests take windows away and renew them themselves: a background renewal (every 5 min)
    // running in between would give them back behind the tests' backs
    cluster.certstore().get(CacheSignerService).onApplicationShutdown();
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  it('gives every due certificate one new window, at most `chunk` per transaction, signed with the server key', async () => {
    const password = 'correct horse battery staple';
    for (const name of ['ada', 'bea', 'cyd', 'dov']) {
      expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
      const { csrPem } = opensslCsr({ localName: name, domain: 'example.com', sessionId: 'laptop' });
      expect((await http('POST', api('/session/trust'), { json: { actor_name: name, csr: csrPem, auth_payload: { password } } })).status).toBe(201);
    }
    // as after a long outage: no certificate has a current window
    await db.query('DELETE FROM cache_signatures');
    const live = await db.query<{ serial: string }>(
      `SELECT serial::text AS serial FROM server_certs UNION ALL SELECT serial::text FROM id_certs ORDER BY 1`,
    );
    expect(live.rows.length).toBe(5);

    const renewed = await cluster.certstore().get(CacheSignerService).renewDue(new Date(), 2);

    expect(renewed).toBe(5);
    // rows written by one transaction share its xmin
    const windows = await db.query<{ serial: string; nb: string; na: string; signature: string; tx: string }>(
      `SELECT serial::text AS serial, cache_not_valid_before::text AS nb, cache_not_valid_after::text AS na, signature, xmin::text AS tx
         FROM cache_signatures ORDER BY serial`,
    );
    expect(windows.rows.map((w) => w.serial)).toEqual(live.rows.map((r) => r.serial));
    const perTransaction = new Map<string, number>();
    for (const w of windows.rows) perTransaction.set(w.tx, (perTransaction.get(w.tx) ?? 0) + 1);
    expect([...perTransaction.values()].sort()).toEqual([1, 2, 2]);

    const root = (await http('GET', api('/idcert/server'))).body.idCertPem as string;
    const rootKey = new X509Certificate(root).publicKey;
    for (const { serial, nb, na, signature } of windows.rows) {
      expect(verify(null, Buffer.from(`${serial}${nb}${na}`), rootKey, Buffer.from(signature, 'hex'))).toBe(true);
    }
    const first = windows.rows[0]!;
    expect(opensslVerifySignature(root, Buffer.from(`${first.serial}${first.nb}${first.na}`), Buffer.from(first.signature, 'hex')).status).toBe(0);

    // nothing is due any more
    expect(await cluster.certstore().get(CacheSignerService).renewDue(new Date(), 2)).toBe(0);
  });

  it('answers 503 P2CORE_UNAVAILABLE for a certificate without a current window, and 200 once it is renewed', async () => {
    const password = 'correct horse battery staple';
    expect((await http('POST', api('/register'), { json: { actor_name: 'eve', auth_payload: { password } } })).status).toBe(201);
    const { csrPem } = opensslCsr({ localName: 'eve', domain: 'example.com', sessionId: 'phone' });
    expect((await http('POST', api('/session/trust'), { json: { actor_name: 'eve', csr: csrPem, auth_payload: { password } } })).status).toBe(201);
    expect((await http('GET', api('/idcert/server'))).status).toBe(200);
    expect((await http('GET', api('/idcert/actor/eve@example.com'))).status).toBe(200);

    // as when renewal has fallen behind: the windows of the root and of eve's cert have ended
    const oneSerial = async (sql: string): Promise<string> => {
      const { rows } = await db.query<{ serial: string }>(sql);
      expect(rows).toHaveLength(1);
      return rows[0]!.serial;
    };
    const rootSerial = await oneSerial(`SELECT serial::text AS serial FROM server_certs WHERE active_until IS NULL`);
    const eveSerial = await oneSerial(`SELECT serial::text AS serial FROM id_certs WHERE federation_id = 'eve@example.com'`);
    const serials = [rootSerial, eveSerial];
    expect((await db.query('DELETE FROM cache_signatures WHERE serial = ANY($1::numeric[])', [serials])).rowCount).toBe(2);
    // The gateway keeps an answer in memory until its window ends, and nothing tells it that rows
    // went (no event): it forgets them as a restarted gateway would, so the reads reach the database.
    cluster.gatewayApp(0).get(ReadCache).forgetAll();

    const server = await http('GET', api('/idcert/server'));
    expectErrorBody(server, 503, 'P2CORE_UNAVAILABLE');
    expect(server.body.message).toBe('The cache signature of this certificate is being renewed; retry in a moment.');
    const actor = await http('GET', api('/idcert/actor/eve@example.com'));
    expectErrorBody(actor, 503, 'P2CORE_UNAVAILABLE');
    expect(actor.body.message).toBe('The cache information of a certificate is being renewed; retry in a moment.');
    // the other reads of the same certificates need no window
    expect((await http('GET', api('/key/server'))).status).toBe(200);
    expect((await http('GET', api('/key/actor/eve@example.com'))).status).toBe(200);

    expect(await cluster.certstore().get(CacheSignerService).renewDue(new Date())).toBe(2);
    const renewed = await db.query<{ serial: string; nb: string; na: string }>(
      `SELECT serial::text AS serial, cache_not_valid_before::text AS nb, cache_not_valid_after::text AS na FROM cache_signatures WHERE serial = ANY($1::numeric[])`,
      [serials],
    );
    expect(renewed.rows.map((r) => r.serial).sort()).toEqual([...serials].sort());
    const windowOf = (serial: string) => {
      const row = renewed.rows.find((r) => r.serial === serial)!;
      return { cacheNotValidBefore: Number(row.nb), cacheNotValidAfter: Number(row.na) };
    };
    const serverAgain = await http('GET', api('/idcert/server'));
    expect(serverAgain.status).toBe(200);
    expect(serverAgain.body).toEqual(expect.objectContaining(windowOf(rootSerial)));
    const actorAgain = await http('GET', api('/idcert/actor/eve@example.com'));
    expect(actorAgain.status).toBe(200);
    expect(actorAgain.body).toEqual([expect.objectContaining(windowOf(eveSerial))]);
  });
});

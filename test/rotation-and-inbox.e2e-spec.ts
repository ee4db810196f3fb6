import { spawn } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, sign, verify, X509Certificate } from 'node:crypto';
import { Client } from 'pg';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { commandRoutes } from './support/command-routes';
import { expectErrorBody, http, bearer } from './support/http';
import { opensslCsr, opensslText, opensslVerify, opensslVerifySignature } from './support/openssl';
import { snapshotProjections } from './support/projections';
import { freshKeyPackage } from './support/key-packages';

interface Session {
  readonly token: string;
  readonly serial: string;
  readonly certPem: string;
}

const serialOf = (pem: string) => BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString();
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** Cert rotation, the events inbox and server key rotation, end to end with
 * two gateways and two certstores, ending with `npm run projections:rebuild`. */
describe('rotation, events inbox and server key rotation (2 gateways, 2 certstores)', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const api = (path: string, gateway = 0) => `${cluster.gatewayUrls[gateway]}/.p2/core/v1${path}`;
  const sensitive = (token: string) => ({ ...bearer(token), 'X-P2-Sensitive-Solution': password });

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'rotation', gateways: 2, certstores: 2, env: { P2_ADMINS: 'root' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    for (const name of ['ivy', 'judy', 'root', 'kim']) {
      if (name === 'root') await cluster.createAdmin(name, password);
      else expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
    }
    // four apps to start, and p2ctl joins the cluster as a client of its own: room on a busy machine
  }, 180_000);

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function openSession(actor: string, sessionId: string, gateway = 0): Promise<Session> {
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust', gateway), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return { token: res.body.token, serial: serialOf(res.body.id_cert), certPem: res.body.id_cert };
  }

  async function rootPem(): Promise<string> {
    return (await http('GET', api('/idcert/server'))).body.idCertPem as string;
  }

  async function poll(token: string, gateway = 0) {
    return http('GET', api('/events', gateway), { headers: bearer(token) });
  }

  /** Drains a session's inbox (so later assertions see only what follows). */
  async function drain(token: string): Promise<void> {
    while ((await poll(token)).status === 200);
  }

  async function nextSecond(): Promise<number> {
    const now = Math.floor(Date.now() / 1000);
    await eventually(() => Math.floor(Date.now() / 1000), { until: (s) => s > now, intervalMs: 50 });
    return now + 1;
  }

  describe('POST /session/idcert: rotating the calling session', () => {
    it('issues a new cert and token for the same session; the old cert is invalidated and its token dies; history keeps both', async () => {
      const old = await openSession('ivy', 'phone');
      const beforeRotation = await nextSecond();
      await nextSecond();
      const csr = opensslCsr({ localName: 'ivy', domain: 'example.com', sessionId: 'phone' });
      // polyproto-rs sends the raw PEM with no Content-Type
      const res = await http('POST', api('/session/idcert', 1), { headers: sensitive(old.token), body: csr.csrPem });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['id_cert', 'token']);
      const rotated: Session = { token: res.body.token, serial: serialOf(res.body.id_cert), certPem: res.body.id_cert };
      expect(rotated.serial).not.toBe(old.serial);
      expect(rotated.token).not.toBe(old.token);
      expect(opensslVerify(await rootPem(), rotated.certPem).status).toBe(0);
      expect(opensslText(rotated.certPem)).toMatch(/Subject: DC = com, DC = example, CN = ivy, UID = ivy@example.com, uid = phone\n/);
      // the new cert certifies the CSR's new key
      expect(new X509Certificate(rotated.certPem).publicKey.export({ format: 'pem', type: 'spki' })).toBe(
        createPublicKey(csr.keyPem).export({ format: 'pem', type: 'spki' }),
      );

      expectErrorBody(await poll(old.token), 401, 'P2CORE_UNAUTHORIZED');
      expect([200, 204]).toContain((await poll(rotated.token)).status);

      const certs = await db.query(`SELECT serial::text AS serial, invalidated_at FROM id_certs WHERE federation_id = 'ivy@example.com' AND session_id = 'phone' ORDER BY issued_at`);
      expect(certs.rows.map((r) => r.serial)).toEqual([old.serial, rotated.serial]);
      expect(certs.rows[0].invalidated_at).toBeInstanceOf(Date);
      expect(certs.rows[1].invalidated_at).toBeNull();

      const events = await db.query(`SELECT type, data FROM events WHERE stream_id = 'actor-ivy@example.com' ORDER BY stream_position DESC LIMIT 2`);
      expect(events.rows.map((r) => r.type)).toEqual(['IdCertRotated', 'IdCertInvalidated']);
      expect(events.rows[1].data).toEqual(expect.objectContaining({ serial: old.serial, reason: 'rotated' }));
      expect(events.rows[0].data).toEqual(expect.objectContaining({ previousSerial: old.serial, serial: rotated.serial, tokenHash: sha256(rotated.token) }));
      expect(JSON.stringify(events.rows)).not.toContain(rotated.token);

      // "which certs did ivy's phone have at T": before the rotation the old one, now the new one
      const before = await http('GET', `${api('/key/actor/ivy@example.com')}?timestamp=${beforeRotation}&session_id=phone`);
      expect(before.body).toEqual({ idcerts: [old.certPem], invalidated: [false] });
      // a timestamp names a whole second: at the second the new cert was issued, it is one of the certs
      // (a message signed with it in its first second carries that second)
      const issued = await db.query(`SELECT floor(extract(epoch FROM issued_at))::bigint::text AS s FROM id_certs WHERE serial = $1`, [rotated.serial]);
      const during = await http('GET', `${api('/key/actor/ivy@example.com')}?timestamp=${issued.rows[0].s}&session_id=phone`);
      expect(during.body.idcerts).toContain(rotated.certPem);
      expect(during.body.invalidated[during.body.idcerts.indexOf(rotated.certPem)]).toBe(false);
      const now = await http('GET', `${api('/key/actor/ivy@example.com')}?session_id=phone`);
      expect(now.body).toEqual({ idcerts: [old.certPem, rotated.certPem], invalidated: [true, false] });
      const cacheable = await http('GET', `${api('/idcert/actor/ivy@example.com')}?session_id=phone`);
      const oldItem = cacheable.body.find((c: { idCertPem: string }) => c.idCertPem === old.certPem);
      expect(oldItem.invalidatedAt).toBe(Math.floor(certs.rows[0].invalidated_at.getTime() / 1000));
      const root = await rootPem();
      const rootKey = new X509Certificate(root).publicKey;
      const signed = `${old.serial}${oldItem.cacheNotValidBefore}${oldItem.cacheNotValidAfter}${oldItem.invalidatedAt}`;
      expect(verify(null, Buffer.from(signed), rootKey, Buffer.from(oldItem.cacheSignature, 'hex'))).toBe(true);
      // OpenSSL takes the key out of the root itself: a check that shares no key handling with the signer
      expect(opensslVerifySignature(root, Buffer.from(signed), Buffer.from(oldItem.cacheSignature, 'hex'))).toEqual({
        status: 0,
        output: expect.stringContaining('Signature Verified Successfully'),
      });

      // announcing the replaced cert is refused; the current one is accepted
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(rotated.token), body: old.certPem }), 403, 'P2CORE_CERT_INVALIDATED');
      expect((await http('PUT', api('/session/idcert/extern'), { headers: bearer(rotated.token), body: rotated.certPem })).status).toBe(201);

      // the rotated session can rotate again, with the JSON body form
      const again = await http('POST', api('/session/idcert'), {
        headers: sensitive(rotated.token),
        json: { csr: opensslCsr({ localName: 'ivy', domain: 'example.com', sessionId: 'phone' }).csrPem },
      });
      expect(again.status).toBe(201);
      expectErrorBody(await poll(rotated.token), 401, 'P2CORE_UNAUTHORIZED');
      // each cert of the session starts later than the one it replaced, even when rotated within
      // the same second (verifiers order a session's certs by notBefore), as OpenSSL reads them
      const notBeforeOf = (pem: string) => Date.parse(/Not Before: (.+)\n/.exec(opensslText(pem))![1]!);
      const starts = [old.certPem, rotated.certPem, again.body.id_cert as string].map(notBeforeOf);
      expect(starts[1]).toBeGreaterThan(starts[0]!);
      expect(starts[2]).toBeGreaterThan(starts[1]!);
    });

    it('answers the beta.3 notBefore/notAfter range on /idcert/actor/:fid: every cert whose validity overlaps it', async () => {
      const certs = await db.query(
        `SELECT pem, floor(extract(epoch FROM not_before))::int AS nb, floor(extract(epoch FROM not_after))::int AS na
           FROM id_certs WHERE federation_id = 'ivy@example.com' AND session_id = 'phone' ORDER BY issued_at`,
      );
      expect(certs.rows.length).toBe(3);
      const url = (query: string) => `${api('/idcert/actor/ivy@example.com')}?session_id=phone&${query}`;
      const all = await http('GET', url(`notBefore=${certs.rows[0].nb}&notAfter=${certs.rows[2].na}`));
      expect(all.body.map((c: { idCertPem: string }) => c.idCertPem)).toEqual(certs.rows.map((r) => r.pem));
      expect(all.body.map((c: { invalidated: boolean }) => c.invalidated)).toEqual([true, true, false]);
      // a range that ends before the first cert began overlaps none
      expect((await http('GET', url(`notBefore=1&notAfter=${certs.rows[0].nb - 1}`))).body).toEqual([]);
      // body form, numbers as strings (polyproto-rs / 2024 leniency)
      const later = await http('GET', api('/idcert/actor/ivy@example.com'), { body: JSON.stringify({ notBefore: String(certs.rows[2].na + 1) }) });
      expect(later.body).toEqual([]);
      expectErrorBody(await http('GET', url('notBefore=20&notAfter=10')), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', url('notBefore=10&timestamp=20')), 400, 'P2CORE_MALFORMED_REQUEST');

      // the 2024 /key/actor has no range: notBefore/notAfter are unknown fields there, ignored as any other
      const keyActor = async (query: string, body?: string) => (await http('GET', `${api('/key/actor/ivy@example.com')}?session_id=phone${query}`, body === undefined ? {} : { body })).body;
      const current = await keyActor('');
      expect(current.idcerts).toEqual(certs.rows.map((r) => r.pem));
      expect(await keyActor(`&notBefore=1&notAfter=${certs.rows[0].nb - 1}`)).toEqual(current);
      expect(await keyActor('', JSON.stringify({ notBefore: 'not a number' }))).toEqual(current);
      const at = `&timestamp=${certs.rows[2].nb + 60}`;
      const atT = await keyActor(at);
      expect(atT.idcerts).toContain(certs.rows[2].pem);
      expect(await keyActor(`${at}&notBefore=20&notAfter=10`)).toEqual(atT);
    });

    it('refuses a CSR for another session, a bad CSR, and calls without token or second factor', async () => {
      const session = await openSession('ivy', 'tablet');
      const otherSession = opensslCsr({ localName: 'ivy', domain: 'example.com', sessionId: 'laptop' }).csrPem;
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: sensitive(session.token), body: otherSession }), 403, 'P2CORE_SESSION_MISMATCH');
      const otherActor = opensslCsr({ localName: 'judy', domain: 'example.com', sessionId: 'tablet' }).csrPem;
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: sensitive(session.token), body: otherActor }), 400, 'P2CORE_INVALID_CSR');
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: sensitive(session.token), body: 'not a csr' }), 400, 'P2CORE_INVALID_CSR');
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: sensitive(session.token), json: { nothing: true } }), 400, 'P2CORE_MALFORMED_REQUEST');
      const own = opensslCsr({ localName: 'ivy', domain: 'example.com', sessionId: 'tablet' }).csrPem;
      expectErrorBody(await http('POST', api('/session/idcert'), { body: own }), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: bearer(session.token), body: own }), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
      expectErrorBody(
        await http('POST', api('/session/idcert'), { headers: { ...bearer(session.token), 'x-p2-sensitive-solution': 'wrong' }, body: own }),
        403,
        'P2CORE_SENSITIVE_SOLUTION_INVALID',
      );
      // nothing of that changed the session
      expect([200, 204]).toContain((await poll(session.token)).status);
    });

    it('answers a retry on the other gateway, with the token the rotation ended, as the first attempt was answered (docs/protocol.md#idempotency-ended-token)', async () => {
      expect((await http('POST', api('/register'), { json: { actor_name: 'lena', auth_payload: { password } } })).status).toBe(201);
      const old = await openSession('lena', 'phone', 1);
      const csr = opensslCsr({ localName: 'lena', domain: 'example.com', sessionId: 'phone' }).csrPem;
      const rotate = (gateway: number) => http('POST', api('/session/idcert', gateway), { headers: { ...sensitive(old.token), 'idempotency-key': 'lost-answer' }, body: csr });
      const first = await rotate(1);
      expect(first.status).toBe(201);
      // the gateways share the token key: either names the rotation's token from the dead one
      const retry = await rotate(0);
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      expect([200, 204]).toContain((await poll(first.body.token, 0)).status);
      const rotations = await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'IdCertRotated' AND data->>'federationId' = 'lena@example.com'`);
      expect(rotations.rows).toEqual([{ n: 1 }]);
    });
  });

  describe('POST /idcert (2025)', () => {
    it('rotates the own session, opens a new one for a free session ID, and refuses a session ID in use', async () => {
      const desk = await openSession('judy', 'desk');
      const rotated = await http('POST', api('/idcert'), { headers: sensitive(desk.token), body: opensslCsr({ localName: 'judy', domain: 'example.com', sessionId: 'desk' }).csrPem });
      expect(rotated.status).toBe(201);
      expectErrorBody(await poll(desk.token), 401, 'P2CORE_UNAUTHORIZED');

      const opened = await http('POST', api('/idcert'), { headers: sensitive(rotated.body.token), body: opensslCsr({ localName: 'judy', domain: 'example.com', sessionId: 'watch' }).csrPem });
      expect(opened.status).toBe(201);
      expect(opensslText(opened.body.id_cert)).toMatch(/CN = judy, UID = judy@example.com, uid = watch\n/);
      // both sessions live side by side
      expect([200, 204]).toContain((await poll(opened.body.token)).status);
      expect([200, 204]).toContain((await poll(rotated.body.token)).status);

      const taken = await http('POST', api('/idcert'), { headers: sensitive(rotated.body.token), body: opensslCsr({ localName: 'judy', domain: 'example.com', sessionId: 'watch' }).csrPem });
      expectErrorBody(taken, 409, 'P2CORE_SESSION_ID_IN_USE');
      expectErrorBody(await http('POST', api('/idcert'), { headers: bearer(rotated.body.token), body: 'x' }), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
    });
  });

  describe('GET /events', () => {
    it('tells the other sessions about a new session (NEW_SESSION), once; 204 when there is nothing', async () => {
      const first = await openSession('kim', 'one');
      expect((await poll(first.token)).status).toBe(204);
      const second = await openSession('kim', 'two');
      const res = await poll(first.token, 1);
      expect(res.status).toBe(200);
      expect(res.body).toEqual([{ type: 'NEW_SESSION', n: 'core', op: 3, d: { cert: second.certPem }, s: 1 }]);
      expect((await poll(first.token)).status).toBe(204);
      expect((await poll(second.token)).status).toBe(204);
      // events queued while a session does not poll are kept for it
      const third = await openSession('kim', 'three');
      const fourth = await openSession('kim', 'four');
      const queued = await poll(first.token);
      expect(queued.body.map((e: { d: { cert: string } }) => e.d.cert)).toEqual([third.certPem, fourth.certPem]);
      expect(queued.body.map((e: { s: number }) => e.s)).toEqual([2, 3]);
      expect((await poll(second.token)).body.map((e: { s: number }) => e.s)).toEqual([1, 2]);
    });

    it('refuses HEAD with 405 and Allow: GET, and acknowledges nothing', async () => {
      // Fastify answers HEAD by running the GET's handler: the items were acknowledged and never seen
      const watcher = await openSession('ivy', 'head-watch');
      await drain(watcher.token);
      const other = await openSession('ivy', 'head-new');
      const head = await http('HEAD', api('/events'), { headers: bearer(watcher.token) });
      expect(head.status).toBe(405);
      expect(head.headers.get('allow')).toBe('GET');
      const res = await poll(watcher.token);
      expect(res.status).toBe(200);
      expect(res.body).toEqual([expect.objectContaining({ type: 'NEW_SESSION', d: { cert: other.certPem } })]);
    });

    it('tells the other sessions when a cert is invalidated (op 4), and forgets a deleted session\'s inbox', async () => {
      const a = await openSession('kim', 'alpha');
      const b = await openSession('kim', 'beta');
      await drain(a.token);
      await drain(b.token);
      const gone = await openSession('kim', 'gamma');
      await drain(a.token);
      expect((await http('DELETE', `${api('/session')}?session_id=gamma`, { headers: sensitive(b.token) })).status).toBe(204);
      const res = await poll(a.token);
      expect(res.body).toEqual([
        expect.objectContaining({
          type: 'ACTOR_CERTIFICATE_INVALIDATION',
          n: 'core',
          op: 4,
          d: expect.objectContaining({ serial: gone.serial, sessionId: 'gamma', reason: 'session-deleted', idCertPem: gone.certPem, invalidSince: expect.any(Number) }),
        }),
      ]);
      // b had NEW_SESSION(gamma) waiting, and now the invalidation too
      expect((await poll(b.token)).body.map((e: { type: string }) => e.type)).toEqual(['NEW_SESSION', 'ACTOR_CERTIFICATE_INVALIDATION']);
      const inbox = await db.query(`SELECT count(*)::int AS n FROM session_inbox WHERE federation_id = 'kim@example.com' AND session_id = 'gamma'`);
      expect(inbox.rows[0].n).toBe(0);
    });

    it('asks a session for a new last-resort KeyPackage once, when its last resort is first handed out (LOW_KEY_PACKAGES)', async () => {
      const owner = await openSession('kim', 'mls');
      const asker = await openSession('judy', 'asker');
      await drain(owner.token);
      const keyPackage = freshKeyPackage();
      expect((await http('PUT', api('/keypackage_lr'), { headers: bearer(owner.token), json: keyPackage })).status).toBe(204);
      for (let i = 0; i < 2; i++) {
        const claimed = await http('GET', api('/keypackage/kim@example.com'), { headers: bearer(asker.token) });
        expect(claimed.status).toBe(200);
        expect(claimed.body).toContainEqual(keyPackage);
      }
      const res = await poll(owner.token);
      expect(res.body).toEqual([{ type: 'LOW_KEY_PACKAGES', n: 'core', d: { reason: 'last-resort-served', serial: owner.serial }, s: expect.any(Number) }]);
      expect((await poll(owner.token)).status).toBe(204);
    });

    it('refuses a call without a valid token', async () => {
      expectErrorBody(await http('GET', api('/events')), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('GET', api('/events'), { headers: bearer('nope') }), 401, 'P2CORE_UNAUTHORIZED');
    });
  });

  describe('PUT /key/server: server key rotation', () => {
    let admin: Session;
    let bystander: Session;

    beforeAll(async () => {
      admin = await openSession('root', 'console');
      bystander = await openSession('kim', 'bystander');
    });

    // two handlers, each with its own guard list: the POST form (beta.3) must refuse exactly what PUT refuses
    it.each(['PUT', 'POST'])('%s is for administrators, with the second factor', async (method) => {
      expectErrorBody(await http(method, api('/key/server'), { headers: sensitive(bystander.token) }), 403, 'P2CORE_NOT_ADMINISTRATOR');
      expectErrorBody(await http(method, api('/key/server')), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http(method, api('/key/server'), { headers: bearer(admin.token) }), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
      expectErrorBody(await http(method, api('/key/server'), { headers: { ...bearer(admin.token), 'x-p2-sensitive-solution': 'no' } }), 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
      expectErrorBody(await http(method, `${api('/key/server')}?compromised=maybe`, { headers: sensitive(admin.token) }), 400, 'P2CORE_MALFORMED_REQUEST');
      // nothing refused reached the certstore: the root is still the one from before
      expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'ServerKeyRotated'`)).rows[0].n).toBe(0);
    });

    it('answers the new root as a JSON string; the old root stays in history and its certs stay valid; every session hears of it', async () => {
      const oldRoot = await rootPem();
      const oldKey = (await http('GET', api('/key/server'))).body as string;
      await drain(bystander.token);
      await drain(admin.token);
      const beforeRotation = await nextSecond();
      await nextSecond();
      const res = await http('PUT', `${api('/key/server')}/`, { headers: sensitive(admin.token) });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(typeof res.body).toBe('string');
      const newRoot = res.body as string;
      expect(serialOf(newRoot)).not.toBe(serialOf(oldRoot));
      expect(opensslVerify(newRoot, newRoot).status).toBe(0);
      expect(opensslText(newRoot)).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE/);

      // reads: now the new root, at a time before the rotation the old one
      expect(await rootPem()).toBe(newRoot);
      expect((await http('GET', `${api('/idcert/server')}?timestamp=${beforeRotation}`)).body.idCertPem).toBe(oldRoot);
      expect((await http('GET', api('/key/server'), { body: JSON.stringify({ timestamp: beforeRotation }) })).body).toBe(oldKey);
      expect((await http('GET', api('/key/server'))).body).not.toBe(oldKey);

      // every live session was told, with the new cert and the old root's end
      const told = await db.query(`SELECT DISTINCT federation_id, session_id FROM session_inbox WHERE type = 'SERVER_KEY_CHANGE'`);
      const live = await db.query(`SELECT DISTINCT federation_id, session_id FROM id_certs WHERE invalidated_at IS NULL AND not_after > now()`);
      expect(live.rows.length).toBeGreaterThan(5);
      expect(told.rows).toHaveLength(live.rows.length);
      expect(told.rows).toEqual(expect.arrayContaining(live.rows));

      // not compromised: existing sessions keep working, their certs chain to the old root
      expect((await poll(bystander.token)).status).toBe(200);
      expect(opensslVerify(oldRoot, bystander.certPem).status).toBe(0);
      // cache information is now signed with the new key
      const item = (await http('GET', `${api('/idcert/actor/kim@example.com')}?session_id=bystander`)).body[0];
      const newKey = new X509Certificate(newRoot).publicKey;
      const signedWindow = Buffer.from(`${bystander.serial}${item.cacheNotValidBefore}${item.cacheNotValidAfter}`);
      expect(verify(null, signedWindow, newKey, Buffer.from(item.cacheSignature, 'hex'))).toBe(true);
      expect(opensslVerifySignature(newRoot, signedWindow, Buffer.from(item.cacheSignature, 'hex'))).toEqual({ status: 0, output: expect.stringContaining('Signature Verified Successfully') });

      const adminEvents = (await poll(admin.token)).body;
      expect(adminEvents).toEqual([
        { type: 'SERVER_KEY_CHANGE', n: 'core', op: 6, d: { cert: newRoot, oldInvalidSince: expect.any(Number) }, s: expect.any(Number) },
        { type: 'LOW_KEY_PACKAGES', n: 'core', d: { reason: 'server-key-change' }, s: expect.any(Number) },
      ]);
      expect(adminEvents[0].d.oldInvalidSince).toBeGreaterThanOrEqual(beforeRotation);

      // new certs come from the new root, whichever certstore signs them
      for (let i = 0; i < 6; i++) {
        const fresh = await openSession('kim', `after-${i}`, i % 2);
        expect(opensslVerify(newRoot, fresh.certPem).status).toBe(0);
        // the old root has the same name: OpenSSL finds it as the issuer and refuses the signature
        expect(opensslVerify(oldRoot, fresh.certPem)).toEqual({ status: 2, output: expect.stringMatching(/error 7 at 0 depth lookup: certificate signature failure/) });
      }
      const events = await db.query(`SELECT data FROM events WHERE type = 'ServerKeyRotated'`);
      expect(events.rows).toHaveLength(1);
      expect(JSON.stringify(events.rows)).not.toMatch(/PRIVATE KEY/);
      expect(events.rows[0].data).toEqual(expect.objectContaining({ compromised: false, requestedBy: 'root@example.com', previousSerial: serialOf(oldRoot) }));
    });

    it('POST with compromised=true invalidates every actor cert of the key being replaced and kills their tokens', async () => {
      const compromisedRoot = await rootPem();
      const victim = await openSession('kim', 'victim');
      expect(opensslVerify(compromisedRoot, victim.certPem).status).toBe(0);
      const res = await http('POST', api('/key/server'), { headers: sensitive(admin.token), json: { compromised: true } });
      expect(res.status).toBe(200);
      expectErrorBody(await poll(victim.token), 401, 'P2CORE_UNAUTHORIZED');
      const left = await db.query(`SELECT count(*)::int AS n FROM id_certs WHERE root_serial = $1 AND invalidated_at IS NULL`, [serialOf(compromisedRoot)]);
      expect(left.rows[0].n).toBe(0);
      const invalidated = await db.query(
        `SELECT count(*)::int AS n FROM events WHERE type = 'IdCertInvalidated' AND data->>'reason' = 'server-key-compromised'`,
      );
      expect(invalidated.rows[0].n).toBe(7); // kim's six "after-i" sessions and the victim
      // certs of the root before it were not compromised and stay valid
      expect((await poll(admin.token)).status).toBe(200);
      expect((await poll(bystander.token)).status).toBe(200);
      // the victim's session ID is free again, and new certs come from the newest root
      const again = await openSession('kim', 'victim');
      expect(opensslVerify(res.body, again.certPem).status).toBe(0);
    });
  });

  describe('CORS for browser clients', () => {
    const origin = { origin: 'https://web.example' };

    it('answers a preflight on any route, allowing the auth, idempotency and sensitive-action headers', async () => {
      for (const path of ['/events', '/session/trust', '/key/actor/kim@example.com', '/session/idcert/']) {
        const res = await http('OPTIONS', api(path), { headers: { ...origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
        expect({ path, status: res.status }).toEqual({ path, status: 204 });
        expect(res.headers.get('access-control-allow-origin')).toBe('*');
        expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
        expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-p2-sensitive-solution');
        expect(res.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
      }
      // OPTIONS without a preflight is not a route (except the key material size limit)
      expectErrorBody(await http('OPTIONS', api('/events')), 404, 'P2CORE_NOT_FOUND');
    });

    it('lets a web client read answers and error bodies; no CORS headers without Origin', async () => {
      const ok = await http('GET', api('/idcert/server'), { headers: origin });
      expect(ok.headers.get('access-control-allow-origin')).toBe('*');
      expect(ok.headers.get('access-control-allow-methods')).toBeNull();
      const refused = await http('GET', api('/events'), { headers: origin });
      expectErrorBody(refused, 401, 'P2CORE_UNAUTHORIZED');
      expect(refused.headers.get('access-control-allow-origin')).toBe('*');
      expect((await http('GET', api('/idcert/server'))).headers.get('access-control-allow-origin')).toBeNull();
    });
  });

  describe('GET /docs/openapi.json', () => {
    it('documents every route of docs/protocol.md#routes, each with its error answers, citing nothing a reader cannot resolve', async () => {
      const doc = (await http('GET', `${cluster.url}/docs/openapi.json`)).body as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
      const routes = [
        'post /register',
        'post /session/trust',
        'post /session/idcert',
        'post /idcert',
        'post /session/keymaterial',
        'get /session/keymaterial',
        'delete /session/keymaterial',
        'options /session/keymaterial',
        'get /session/keymaterial/size',
        'post /keypackage/@me',
        'put /keypackage_lr',
        'get /keypackage/{fid}',
        'get /challenge',
        'post /session/identify',
        'put /session/revoke',
        'post /session/revoke',
        'delete /session',
        'get /idcert/server',
        'get /key/server',
        'put /key/server',
        'post /key/server',
        'get /key/actor/{fid}',
        'get /idcert/actor/{fid}',
        'post /session/idcert/extern',
        'put /session/idcert/extern',
        'get /events',
      ];
      const missing = routes.filter((route) => {
        const [method, path] = route.split(' ') as [string, string];
        return !doc.paths[`/.p2/core/v1${path}`]?.[method];
      });
      expect(missing).toEqual([]);
      const withoutErrors = routes.filter((route) => {
        const [method, path] = route.split(' ') as [string, string];
        const responses = Object.keys(doc.paths[`/.p2/core/v1${path}`]![method]!.responses);
        return !responses.some((status) => Number(status) >= 400) && !['get /key/server', 'get /idcert/server', 'get /challenge', 'options /session/keymaterial', 'get /session/keymaterial/size'].includes(route);
      });
      expect(withoutErrors).toEqual([]);
      // a route that sends a command can answer 503 when the certstore does not reply in time
      const sendingCommands = commandRoutes();
      expect(sendingCommands).toEqual(expect.arrayContaining(['post /.p2/core/v1/register', 'put /.p2/core/v1/session/revoke', 'delete /.p2/core/v1/session']));
      expect(sendingCommands.filter((route) => {
        const [method, path] = route.split(' ') as [string, string];
        return doc.paths[path]?.[method]?.responses['503'] === undefined;
      })).toEqual([]);
      expect(doc.paths['/.well-known/polyproto-core']?.get).toBeDefined();
      // summaries and descriptions name routes by path: no route numbers, no documents outside the repository
      expect(JSON.stringify(doc)).not.toMatch(/\(R\d+b?[),]|\bR\d+b?\)|profile [D§]\d|digest §|design\.md/);
    });
  });

  describe('npm run projections:rebuild', () => {
    it('rebuilds every read model from the events table, equal to the live ones', async () => {
      // round the scenario off with the features this file does not otherwise touch
      const csr = opensslCsr({ localName: 'judy', domain: 'example.com', sessionId: 'keys' });
      const trusted = await http('POST', api('/session/trust'), { json: { actor_name: 'judy', csr: csr.csrPem, auth_payload: { password } } });
      const serial = serialOf(trusted.body.id_cert);
      const stored = await http('POST', api('/session/keymaterial'), {
        headers: bearer(trusted.body.token),
        json: [{ key_data: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----', serial_number: serial }],
      });
      expect(stored.status).toBe(201);
      const { challenge } = (await http('GET', api('/challenge'))).body as { challenge: string };
      const signature = sign(null, Buffer.from(challenge), createPrivateKey(csr.keyPem)).toString('hex');
      const identified = await http('POST', api('/session/identify'), { json: { completed_challenge: { challenge, signature }, id_cert: trusted.body.id_cert } });
      expect(identified.status).toBe(201);

      const live = await snapshotProjections(db);
      for (const table of ['session_inbox', 'key_material', 'key_packages', 'session_tokens', 'server_certs']) {
        expect([table, live[table]!.length > 0]).toEqual([table, true]);
      }
      // asynchronous, so the cluster in this process keeps its Kafka sessions while the command builds and runs
      // the cluster's key-encryption key opens the key material's data keys (docs/architecture.md#crypto-shredding)
      const run = await runCommand('npm', ['run', '--silent', 'projections:rebuild'], {
        ...process.env,
        DATABASE_URL: cluster.databaseUrl,
        P2_KEY_ENCRYPTION_KEY: cluster.keyEncryptionKey.toString('hex'),
      });
      expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
      const { rows } = await db.query('SELECT count(*)::int AS n FROM events');
      expect(run.stdout).toContain(`rebuilt the read models from ${rows[0].n} events`);
      expect(await snapshotProjections(db)).toEqual(live);
    }, 600_000);
  });
});

/** Runs a command to its end without blocking the event loop; the build inside it can take minutes on a busy machine. */
function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (status) => resolve({ status, stdout, stderr }));
  });
}

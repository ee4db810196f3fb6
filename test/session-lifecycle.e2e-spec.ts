import { createHash, X509Certificate, verify } from 'node:crypto';
import { Client } from 'pg';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { CommandProbe } from './support/command-probe';
import { expectErrorBody, http, bearer } from './support/http';
import { opensslCsr, opensslVerifySignature } from './support/openssl';
import { rawHttp } from './support/raw-http';

/** Logout and session deletion (issue 4, sessions), end to end. */
describe('session lifecycle: PUT /session/revoke and DELETE /session', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'lifecycle', gateways: 1, certstores: 1 });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    expect((await http('POST', api('/register'), { json: { actor_name: 'mallory', auth_payload: { password } } })).status).toBe(201);
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function openSession(sessionId: string): Promise<{ token: string; serial: string; certPem: string }> {
    const csr = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: 'mallory', csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    const serial = BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString();
    return { token: res.body.token, serial, certPem: res.body.id_cert };
  }


  it('refuses calls without a token, with an unknown token, and with garbage', async () => {
    expectErrorBody(await http('PUT', api('/session/revoke')), 401, 'P2CORE_UNAUTHORIZED');
    expectErrorBody(await http('PUT', api('/session/revoke'), { headers: bearer('A'.repeat(43)) }), 401, 'P2CORE_UNAUTHORIZED');
    expectErrorBody(await http('PUT', api('/session/revoke'), { headers: { authorization: 'Bearer ' } }), 401, 'P2CORE_UNAUTHORIZED');
  });

  it('logout kills the calling token and keeps the cert valid; a bare token is accepted', async () => {
    const session = await openSession('desk');
    const res = await http('PUT', api('/session/revoke'), { headers: { authorization: session.token } });
    expect(res.status).toBe(204);
    expectErrorBody(await http('PUT', api('/session/revoke'), { headers: bearer(session.token) }), 401, 'P2CORE_UNAUTHORIZED');
    const cert = await db.query(`SELECT invalidated_at FROM id_certs WHERE serial = $1`, [session.serial]);
    expect(cert.rows).toEqual([{ invalidated_at: null }]);
    const events = await db.query(`SELECT type FROM events WHERE stream_id = 'actor-mallory@example.com' ORDER BY stream_position DESC LIMIT 1`);
    expect(events.rows).toEqual([{ type: 'SessionLoggedOut' }]);
    // the session ID is still held by a valid cert
    const csr = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId: 'desk' });
    expectErrorBody(await http('POST', api('/session/trust'), { json: { actor_name: 'mallory', csr: csr.csrPem, auth_payload: { password } } }), 409, 'P2CORE_SESSION_ID_IN_USE');
  });

  it('accepts logout by POST too', async () => {
    const session = await openSession('posted');
    expect((await http('POST', api('/session/revoke/'), { headers: bearer(session.token) })).status).toBe(204);
    expectErrorBody(await http('POST', api('/session/revoke'), { headers: bearer(session.token) }), 401, 'P2CORE_UNAUTHORIZED');
  });

  /** Every answer is 204 or the dead-token 401 (docs/protocol.md#idempotency-ended-token), never a 404. */
  function expectOneAppliedRestDeadToken(answers: Awaited<ReturnType<typeof http>>[]): void {
    for (const answer of answers) {
      if (answer.status === 204) continue;
      expectErrorBody(answer, 401, 'P2CORE_UNAUTHORIZED');
      expect(answer.body.message).toBe('The session token is unknown, revoked or belongs to an invalid certificate.');
    }
    expect(answers.filter((a) => a.status === 204).length).toBeGreaterThanOrEqual(1);
  }

  it('racing logouts with one token: 204, the others 401 (the token is dead), never 404; the cert stays valid', async () => {
    for (const [round, method] of [['rv-put', 'PUT'], ['rv-post', 'POST']] as const) {
      const session = await openSession(round);
      const answers = await Promise.all(Array.from({ length: 8 }, () => http(method, api('/session/revoke'), { headers: bearer(session.token) })));
      expectOneAppliedRestDeadToken(answers);
      const cert = await db.query(`SELECT invalidated_at FROM id_certs WHERE serial = $1`, [session.serial]);
      expect(cert.rows).toEqual([{ invalidated_at: null }]);
    }
  });

  it('racing deletions of the calling session with one token: 204, the others 401, never 404', async () => {
    const session = await openSession('del-race');
    const sensitive = { ...bearer(session.token), 'x-p2-sensitive-solution': password };
    const answers = await Promise.all(Array.from({ length: 8 }, () => http('DELETE', `${api('/session')}?session_id=del-race`, { headers: sensitive })));
    expectOneAppliedRestDeadToken(answers);
    expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'SessionDeleted' AND data->>'sessionId' = 'del-race'`)).rows).toEqual([{ n: 1 }]);
  });

  it('the certstore decides again: a logout or own-session deletion whose token was ended since the gateway checked it is 401, a session that never existed 404', async () => {
    const probe = new CommandProbe(cluster.topicPrefix);
    await probe.start();
    try {
      const send = async (type: string, data: Record<string, unknown>) => {
        const command = probe.envelope(type, { federationId: 'mallory@example.com', ...data });
        await probe.send([command]);
        return probe.replyFor(command.metadata.messageId as string);
      };
      const dead = expect.objectContaining({ ok: false, error: { code: 'P2CORE_UNAUTHORIZED', message: 'The session token is unknown, revoked or belongs to an invalid certificate.' } });
      const session = await openSession('rv-2');
      const tokenHash = createHash('sha256').update(session.token).digest('hex');
      // two logouts with one token, as two racing requests the gateway both let in
      expect(await send('LogOutSession', { sessionId: 'rv-2', tokenHash })).toEqual(expect.objectContaining({ ok: true }));
      expect(await send('LogOutSession', { sessionId: 'rv-2', tokenHash })).toEqual(dead);
      // and through HTTP, the retry of the applied logout
      expectErrorBody(await http('PUT', api('/session/revoke'), { headers: bearer(session.token) }), 401, 'P2CORE_UNAUTHORIZED');
      const own = await openSession('del-2');
      const ownHash = createHash('sha256').update(own.token).digest('hex');
      expect(await send('DeleteSession', { sessionId: 'del-2', callerTokenHash: ownHash })).toEqual(expect.objectContaining({ ok: true }));
      expect(await send('DeleteSession', { sessionId: 'del-2', callerTokenHash: ownHash })).toEqual(dead);
      // the documented 404s stay: no such session
      const missing = expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'P2CORE_SESSION_NOT_FOUND' }) });
      expect(await send('LogOutSession', { sessionId: 'never-was', tokenHash })).toEqual(missing);
      expect(await send('DeleteSession', { sessionId: 'del-2' })).toEqual(missing);
      const sensitive = { ...bearer((await openSession('del-3')).token), 'x-p2-sensitive-solution': password };
      expectErrorBody(await http('DELETE', `${api('/session')}?session_id=never-was`, { headers: sensitive }), 404, 'P2CORE_SESSION_NOT_FOUND');
    } finally {
      await probe.stop();
    }
  });

  it('two sessions logging out with the same Idempotency-Key each lose their own token', async () => {
    const first = await openSession('twin-a');
    const second = await openSession('twin-b');
    const sameKey = { 'idempotency-key': 'logout-1' };
    const authenticated = (token: string) => http('GET', api('/session/keymaterial'), { headers: bearer(token) });
    expect((await authenticated(second.token)).status).toBe(200);
    expect((await http('PUT', api('/session/revoke'), { headers: { ...bearer(first.token), ...sameKey } })).status).toBe(204);
    expect((await http('PUT', api('/session/revoke'), { headers: { ...bearer(second.token), ...sameKey } })).status).toBe(204);
    // the key names a retry of one session's logout, never another session's
    expectErrorBody(await authenticated(first.token), 401, 'P2CORE_UNAUTHORIZED');
    expectErrorBody(await authenticated(second.token), 401, 'P2CORE_UNAUTHORIZED');
    const loggedOut = await db.query(`SELECT data->>'sessionId' AS session FROM events WHERE stream_id = 'actor-mallory@example.com' AND type = 'SessionLoggedOut' AND data->>'sessionId' LIKE 'twin-%' ORDER BY 1`);
    expect(loggedOut.rows).toEqual([{ session: 'twin-a' }, { session: 'twin-b' }]);
  });

  it('DELETE /session is sensitive: 401 without the solution header, 403 with a wrong one', async () => {
    const session = await openSession('guarded');
    expectErrorBody(await http('DELETE', `${api('/session')}?session_id=guarded`, { headers: bearer(session.token) }), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
    expectErrorBody(
      await http('DELETE', `${api('/session')}?session_id=guarded`, { headers: { ...bearer(session.token), 'X-P2-Sensitive-Solution': 'not it' } }),
      403,
      'P2CORE_SENSITIVE_SOLUTION_INVALID',
    );
    const sensitive = { ...bearer(session.token), 'x-p2-sensitive-solution': password };
    expectErrorBody(await http('DELETE', `${api('/session')}?session_id=nope`, { headers: sensitive }), 404, 'P2CORE_SESSION_NOT_FOUND');
    expectErrorBody(await http('DELETE', api('/session'), { headers: sensitive }), 400, 'P2CORE_MALFORMED_REQUEST');
  });

  it('DELETE /session takes a password beyond Latin-1 sent as UTF-8 in X-P2-Sensitive-Solution', async () => {
    // Node reads header bytes as Latin-1: the UTF-8 bytes of this password never matched, and no
    // client can send its characters otherwise, so its actor could do no sensitive action at all
    const unicode = 'пароль-🔑-pässwörd';
    expect((await http('POST', api('/register'), { json: { actor_name: 'yuki', auth_payload: { password: unicode } } })).status).toBe(201);
    const csr = opensslCsr({ localName: 'yuki', domain: 'example.com', sessionId: 'tablet' });
    const trust = await http('POST', api('/session/trust'), { json: { actor_name: 'yuki', csr: csr.csrPem, auth_payload: { password: unicode } } });
    expect(trust.status).toBe(201);
    const head = (solution: Buffer) =>
      Buffer.concat([
        Buffer.from(`DELETE /.p2/core/v1/session?session_id=tablet HTTP/1.1\r\nHost: example.com\r\nAuthorization: Bearer ${trust.body.token}\r\nX-P2-Sensitive-Solution: `),
        solution,
        Buffer.from('\r\nConnection: close\r\n\r\n'),
      ]);
    expectErrorBody(await rawHttp(cluster.url, head(Buffer.from('пароль-🔑-pässwörX', 'utf8'))), 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
    expect((await rawHttp(cluster.url, head(Buffer.from(unicode, 'utf8')))).status).toBe(204);
  });

  it('deleting a session kills its token, invalidates its cert (re-signed cache info) and frees the session ID', async () => {
    const caller = await openSession('caller');
    const victim = await openSession('old-phone');
    const sensitive = { ...bearer(caller.token), 'x-p2-sensitive-solution': password };
    // JSON body form, as polyproto-rs sends it (no Content-Type)
    const res = await http('DELETE', `${api('/session')}/`, { headers: sensitive, body: JSON.stringify({ session_id: 'old-phone' }) });
    expect(res.status).toBe(204);
    expectErrorBody(await http('PUT', api('/session/revoke'), { headers: bearer(victim.token) }), 401, 'P2CORE_UNAUTHORIZED');
    const cert = await db.query(`SELECT floor(extract(epoch FROM invalidated_at))::bigint::text AS at FROM id_certs WHERE serial = $1`, [victim.serial]);
    expect(Number(cert.rows[0].at)).toBeGreaterThan(0);
    const cache = await db.query(
      `SELECT cache_not_valid_before::text AS nb, cache_not_valid_after::text AS na, invalidated_at::text AS inv, signature
         FROM cache_signatures WHERE serial = $1 AND invalidated_at IS NOT NULL`,
      [victim.serial],
    );
    expect(cache.rows).toHaveLength(1);
    const { nb, na, inv, signature } = cache.rows[0];
    expect(inv).toBe(cert.rows[0].at);
    const root = await http('GET', api('/idcert/server'));
    const rootKey = new X509Certificate(root.body.idCertPem).publicKey;
    expect(verify(null, Buffer.from(`${victim.serial}${nb}${na}${inv}`), rootKey, Buffer.from(signature, 'hex'))).toBe(true);
    // OpenSSL takes the key out of the root itself: a check that shares no key handling with the signer
    expect(opensslVerifySignature(root.body.idCertPem, Buffer.from(`${victim.serial}${nb}${na}${inv}`), Buffer.from(signature, 'hex'))).toEqual({
      status: 0,
      output: expect.stringContaining('Signature Verified Successfully'),
    });

    const events = await db.query(`SELECT type FROM events WHERE stream_id = 'actor-mallory@example.com' ORDER BY stream_position DESC LIMIT 2`);
    expect(events.rows.map((r) => r.type)).toEqual(['IdCertInvalidated', 'SessionDeleted']);
    // the caller's own session is untouched, and the deleted session's ID is free again
    expect((await http('PUT', api('/session/revoke'), { headers: bearer(caller.token) })).status).toBe(204);
    const reused = await openSession('old-phone');
    expect(reused.serial).not.toBe(victim.serial);
  });

  describe('a write retried with its Idempotency-Key after its answer was lost (docs/protocol.md#idempotency-key)', () => {
    const withKey = (token: string, key: string) => ({ ...bearer(token), 'x-p2-sensitive-solution': password, 'idempotency-key': key });

    it('a rotation that ended the calling token answers its retry with the first outcome: the same cert and the same token', async () => {
      const old = await openSession('retried');
      const csr = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId: 'retried' });
      const first = await http('POST', api('/session/idcert'), { headers: withKey(old.token, 'rotate-1'), body: csr.csrPem });
      expect(first.status).toBe(201);
      // the client never saw `first` (a reply deadline passed, the connection dropped) and sends
      // the same request again, with the token the rotation ended
      const retry = await http('POST', api('/session/idcert'), { headers: withKey(old.token, 'rotate-1'), body: csr.csrPem });
      expect(retry.status).toBe(201);
      expect(retry.body).toEqual(first.body);
      // the 2025 route rotates through the same command, so its retry is the same request
      const viaIdcert = await http('POST', api('/idcert'), { headers: withKey(old.token, 'rotate-1'), body: csr.csrPem });
      expect(viaIdcert.status).toBe(201);
      expect(viaIdcert.body).toEqual(first.body);
      // nothing was applied a second time: one rotation, and the token it gave is live
      const certs = await db.query(`SELECT count(*)::int AS n FROM id_certs WHERE federation_id = 'mallory@example.com' AND session_id = 'retried'`);
      expect(certs.rows).toEqual([{ n: 2 }]);
      expect([200, 204]).toContain((await http('GET', api('/events'), { headers: bearer(first.body.token) })).status);
    });

    it('the ended token gets nothing else: another key, another session ID, no or a wrong second factor, or a rotation whose token ended in turn', async () => {
      const old = await openSession('ended');
      const csr = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId: 'ended' });
      const first = await http('POST', api('/session/idcert'), { headers: withKey(old.token, 'rotate-2'), body: csr.csrPem });
      expect(first.status).toBe(201);
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: withKey(old.token, 'rotate-3'), body: csr.csrPem }), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: bearer(old.token), body: csr.csrPem }), 401, 'P2CORE_UNAUTHORIZED');
      const other = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId: 'elsewhere' });
      expectErrorBody(await http('POST', api('/idcert'), { headers: withKey(old.token, 'rotate-2'), body: other.csrPem }), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: withKey(old.token, 'rotate-2'), body: other.csrPem }), 403, 'P2CORE_SESSION_MISMATCH');
      const withoutSolution = { ...bearer(old.token), 'idempotency-key': 'rotate-2' };
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: withoutSolution, body: csr.csrPem }), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
      expectErrorBody(
        await http('POST', api('/session/idcert'), { headers: { ...withKey(old.token, 'rotate-2'), 'x-p2-sensitive-solution': 'not it' }, body: csr.csrPem }),
        403,
        'P2CORE_SENSITIVE_SOLUTION_INVALID',
      );
      // once the token the rotation gave has ended too (here by logging out), there is nothing to give back
      expect((await http('PUT', api('/session/revoke'), { headers: bearer(first.body.token) })).status).toBe(204);
      expectErrorBody(await http('POST', api('/session/idcert'), { headers: withKey(old.token, 'rotate-2'), body: csr.csrPem }), 401, 'P2CORE_UNAUTHORIZED');
    });

    it('a logout or a deletion of the calling session, once applied, answers its retry 401: the token it ended is gone', async () => {
      const loggedOut = await openSession('logged-out');
      expect((await http('PUT', api('/session/revoke'), { headers: { ...bearer(loggedOut.token), 'idempotency-key': 'bye' } })).status).toBe(204);
      expectErrorBody(await http('PUT', api('/session/revoke'), { headers: { ...bearer(loggedOut.token), 'idempotency-key': 'bye' } }), 401, 'P2CORE_UNAUTHORIZED');
      const deleted = await openSession('deleted-self');
      const remove = () => http('DELETE', `${api('/session')}?session_id=deleted-self`, { headers: withKey(deleted.token, 'gone') });
      expect((await remove()).status).toBe(204);
      expectErrorBody(await remove(), 401, 'P2CORE_UNAUTHORIZED');
    });
  });

  describe('actor cert reads: GET /key/actor/:fid and GET /idcert/actor/:fid', () => {
    let kept: { token: string; serial: string; certPem: string };
    let gone: { token: string; serial: string; certPem: string };
    let beforeDeletion: number;

    beforeAll(async () => {
      kept = await openSession('reader');
      gone = await openSession('laptop');
      const issued = Math.floor(Date.now() / 1000);
      // history is kept in whole seconds: let one tick pass between issuance and deletion
      await eventually(() => Math.floor(Date.now() / 1000), { until: (s) => s > issued + 1, intervalMs: 100 });
      beforeDeletion = issued + 1;
      const sensitive = { ...bearer(kept.token), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', `${api('/session')}?session_id=laptop`, { headers: sensitive })).status).toBe(204);
    });

    it('2024 shape: every cert still inside its validity, with index-aligned invalidation flags', async () => {
      const res = await http('GET', api('/key/actor/mallory@example.com'));
      expect(res.status).toBe(200);
      const { idcerts, invalidated } = res.body as { idcerts: string[]; invalidated: boolean[] };
      expect(idcerts).toHaveLength(invalidated.length);
      expect(invalidated[idcerts.indexOf(gone.certPem)]).toBe(true);
      expect(invalidated[idcerts.indexOf(kept.certPem)]).toBe(false);
    });

    it('answers "which certs did the actor have at time T" from the history (query or body, session filter)', async () => {
      const before = await http('GET', `${api('/key/actor/mallory@example.com')}?timestamp=${beforeDeletion}&session_id=laptop`);
      expect(before.body).toEqual({ idcerts: [gone.certPem], invalidated: [false] });
      const afterDeletion = Math.ceil(Date.now() / 1000) + 1;
      const after = await http('GET', api('/key/actor/mallory@example.com'), { body: JSON.stringify({ timestamp: String(afterDeletion), session_id: 'laptop' }) });
      expect(after.body).toEqual({ idcerts: [], invalidated: [] });
    });

    it('2025 shape: cacheable objects whose cacheSignature verifies, invalidatedAt for the deleted session', async () => {
      const res = await http('GET', `${api('/idcert/actor/mallory%40example.com')}?session_id=laptop`);
      expect(res.status).toBe(200);
      expect(res.body).toHaveLength(1);
      const [item] = res.body;
      expect(item).toEqual(
        expect.objectContaining({ id_cert: gone.certPem, idCertPem: gone.certPem, invalidated: true, invalidatedAt: expect.any(Number) }),
      );
      const root = await http('GET', api('/idcert/server'));
      const rootKey = new X509Certificate(root.body.idCertPem).publicKey;
      const payload = `${gone.serial}${item.cacheNotValidBefore}${item.cacheNotValidAfter}${item.invalidatedAt}`;
      expect(verify(null, Buffer.from(payload), rootKey, Buffer.from(item.cacheSignature, 'hex'))).toBe(true);
      expect(opensslVerifySignature(root.body.idCertPem, Buffer.from(payload), Buffer.from(item.cacheSignature, 'hex'))).toEqual({
        status: 0,
        output: expect.stringContaining('Signature Verified Successfully'),
      });
      const live = await http('GET', `${api('/idcert/actor/mallory@example.com')}?session_id=reader`);
      expect(live.body).toHaveLength(1);
      expect(live.body[0]).not.toHaveProperty('invalidatedAt');
      expect(live.body[0].invalidated).toBe(false);
    });

    it('404 for an actor this server does not have, 400 for a malformed fid or timestamp', async () => {
      expectErrorBody(await http('GET', api('/idcert/actor/nobody@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
      expectErrorBody(await http('GET', api('/key/actor/mallory@elsewhere.org')), 404, 'P2CORE_ACTOR_NOT_FOUND');
      expectErrorBody(await http('GET', api('/key/actor/not-a-fid')), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', `${api('/key/actor/mallory@example.com')}?timestamp=-5`), 400, 'P2CORE_MALFORMED_REQUEST');
    });
  });
});

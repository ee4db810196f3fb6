import { createHash, createPrivateKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createHomeServerRootCert, ed25519SignerFromPrivateKey, issueActorIdCert, readIdCsr } from '@p2/polyproto';
import { TestClock } from '@p2/testing';
import { CHALLENGE_LENGTH, randomChallenge } from '../apps/gateway/src/identify/challenge-string';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, type HttpResult } from './support/http';
import { openssl, opensslCsr, withTempDir } from './support/openssl';
import { rebuildFromLog, snapshotProjections } from './support/projections';

interface Session {
  readonly actor: string;
  readonly sessionId: string;
  readonly token: string;
  readonly serial: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const password = 'correct horse battery staple';
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The signature polyproto-rs sends: Ed25519 over the challenge's UTF-8 bytes, hex-encoded. */
function signHex(keyPem: string, challenge: string): string {
  return sign(null, Buffer.from(challenge, 'utf8'), createPrivateKey(keyPem)).toString('hex');
}

/** The same signature made by OpenSSL's command line (the independent implementation), as base64. */
function opensslSignBase64(keyPem: string, challenge: string): string {
  return withTempDir((dir) => {
    writeFileSync(join(dir, 'key.pem'), keyPem);
    writeFileSync(join(dir, 'challenge.txt'), challenge);
    const out = join(dir, 'sig.bin');
    const result = openssl(['pkeyutl', '-sign', '-inkey', join(dir, 'key.pem'), '-rawin', '-in', join(dir, 'challenge.txt'), '-out', out]);
    if (result.status !== 0) throw new Error(result.stderr);
    return readFileSync(out).toString('base64');
  });
}

/** A valid-looking ID-Cert issued by a root this server does not hold: of another home server
 * (`domain` elsewhere), or a forgery naming this server. */
function certFromAnotherRoot(domain: string, localName: string, sessionId: string): { certPem: string; keyPem: string } {
  const signer = ed25519SignerFromPrivateKey(generateKeyPairSync('ed25519').privateKey);
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = new Date(notBefore.getTime() + 86_400_000);
  const root = createHomeServerRootCert({ domain, serial: 4242n, notBefore, notAfter, signer });
  const csr = opensslCsr({ localName, domain, sessionId });
  const cert = issueActorIdCert({
    csr: readIdCsr(csr.csrPem, { domain, actorLocalName: localName }),
    issuerSubjectDer: root.subjectDer,
    serial: 4243n,
    notBefore,
    notAfter,
    signer,
  });
  return { certPem: cert.pem, keyPem: csr.keyPem };
}

describe('challenge string generator', () => {
  it('draws 64 characters of [A-Za-z0-9], every class present, every character possible', () => {
    const seen = new Set<string>();
    const draws = Array.from({ length: 2000 }, () => randomChallenge());
    for (const c of draws) {
      expect(c).toMatch(/^[A-Za-z0-9]{64}$/);
      expect(c).toMatch(/[a-z]/);
      expect(c).toMatch(/[A-Z]/);
      expect(c).toMatch(/[0-9]/);
      for (const ch of c) seen.add(ch);
    }
    expect(seen.size).toBe(62);
    expect(new Set(draws).size).toBe(draws.length);
  });
});

/** GET /challenge, POST /session/identify and POST|PUT /session/idcert/extern through HTTP →
 * gateway → Kafka → certstore → PostgreSQL, with two gateways and two certstores. */
describe('challenges, identify and extern cert announcements (2 gateways, 2 certstores)', () => {
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string, gateway = 0) => `${cluster.gatewayUrls[gateway]}/.p2/core/v1${path}`;

  beforeAll(async () => {
    // federation off: foreign certs are answered without asking other servers (test/federation.e2e-spec.ts has them)
    cluster = await TestCluster.start({ label: 'identify', gateways: 2, certstores: 2, env: { P2_FEDERATION_ENABLED: 'false' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    for (const actor of ['alice', 'bob']) {
      expect((await http('POST', api('/register'), { json: { actor_name: actor, auth_payload: { password } } })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function openSession(actor: string, sessionId: string): Promise<Session> {
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    const serial = BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString();
    return { actor, sessionId, token: res.body.token, serial, certPem: res.body.id_cert, keyPem: csr.keyPem };
  }

  async function challenge(query = '', gateway = 0): Promise<{ challenge: string; expires: number }> {
    const res = await http('GET', `${api('/challenge', gateway)}${query}`);
    expect(res.status).toBe(200);
    return res.body;
  }

  function identify(json: unknown, options: { gateway?: number; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    return http('POST', api('/session/identify', options.gateway ?? 0), { json, headers: options.headers });
  }

  /** The body polyproto-rs's 2024 example shows. */
  const completed = (session: Session, value: string, signature = signHex(session.keyPem, value)) => ({
    completed_challenge: { challenge: value, signature },
    id_cert: session.certPem,
  });

  async function tokenWorks(token: string): Promise<boolean> {
    const res = await http('PUT', api('/session/idcert/extern'), { headers: bearer(token), body: 'not a cert' });
    return res.status === 400; // past the bearer guard: the body is what fails
  }

  describe('GET /challenge', () => {
    it('hands out 64 alphanumeric characters with every class, expiring in about 300 s (a JSON number)', async () => {
      const before = Math.floor(Date.now() / 1000);
      const res = await http('GET', `${api('/challenge')}/`);
      expect(res.status).toBe(200);
      expect(res.text).toMatch(/"expires":\d+[,}]/);
      const { challenge: value, expires } = res.body;
      expect(value).toHaveLength(CHALLENGE_LENGTH);
      expect(value).toMatch(/^[A-Za-z0-9]{64}$/);
      expect(value).toMatch(/[a-z]/);
      expect(value).toMatch(/[A-Z]/);
      expect(value).toMatch(/[0-9]/);
      expect(typeof expires).toBe('number');
      expect(expires).toBeGreaterThanOrEqual(before + 300);
      expect(expires).toBeLessThanOrEqual(Math.ceil(Date.now() / 1000) + 302);
      expect((await challenge()).challenge).not.toBe(value);

      const events = await db.query(`SELECT type, data FROM events WHERE stream_id = $1`, [`challenge-${value}`]);
      expect(events.rows).toEqual([{ type: 'ChallengeIssued', data: expect.objectContaining({ challenge: value, expiresAt: new Date(expires * 1000).toISOString() }) }]);
      const row = await db.query(`SELECT bound_federation_id, consumed_at, extract(epoch FROM expires_at)::bigint::text AS expires FROM challenges WHERE challenge = $1`, [value]);
      expect(row.rows).toEqual([{ bound_federation_id: null, consumed_at: null, expires: String(expires) }]);
    });

    it('binds the challenge to fid and session_id when given (query or JSON body), and refuses malformed ones', async () => {
      const { challenge: value } = await challenge('?fid=Alice@Example.com&session_id=laptop');
      const row = await db.query(`SELECT bound_federation_id, bound_session_id FROM challenges WHERE challenge = $1`, [value]);
      expect(row.rows).toEqual([{ bound_federation_id: 'alice@example.com', bound_session_id: 'laptop' }]);
      const byBody = await http('GET', api('/challenge'), { body: JSON.stringify({ fid: 'bob@example.com' }) });
      expect(byBody.status).toBe(200);
      const bodyRow = await db.query(`SELECT bound_federation_id, bound_session_id FROM challenges WHERE challenge = $1`, [byBody.body.challenge]);
      expect(bodyRow.rows).toEqual([{ bound_federation_id: 'bob@example.com', bound_session_id: null }]);

      expectErrorBody(await http('GET', `${api('/challenge')}?fid=not-a-fid`), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', `${api('/challenge')}?session_id=${'x'.repeat(33)}`), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', `${api('/challenge')}?fid=a@b.c&fid=d@e.f`), 400, 'P2CORE_MALFORMED_REQUEST');
    });
  });

  describe('POST /session/identify', () => {
    let laptop: Session;

    beforeAll(async () => {
      laptop = await openSession('alice', 'laptop');
    });

    it('gives the cert a new token for a completed challenge; the previous token of that cert dies', async () => {
      const { challenge: value } = await challenge();
      const res = await identify(completed(laptop, value));
      expect(res.status).toBe(201);
      expect(Object.keys(res.body)).toEqual(['token']);
      const token: string = res.body.token;
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(token).not.toBe(laptop.token);

      expect(await tokenWorks(token)).toBe(true);
      expectErrorBody(await http('PUT', api('/session/revoke'), { headers: bearer(laptop.token) }), 401, 'P2CORE_UNAUTHORIZED');
      const tokens = await db.query(`SELECT token_hash FROM session_tokens WHERE cert_serial = $1`, [laptop.serial]);
      expect(tokens.rows).toEqual([{ token_hash: sha256(token) }]);

      const actorEvents = await db.query(`SELECT type, data FROM events WHERE stream_id = 'actor-alice@example.com' ORDER BY stream_position DESC LIMIT 1`);
      expect(actorEvents.rows).toEqual([
        { type: 'SessionIdentified', data: expect.objectContaining({ federationId: 'alice@example.com', sessionId: 'laptop', serial: laptop.serial, tokenHash: sha256(token) }) },
      ]);
      const challengeEvents = await db.query(`SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_position`, [`challenge-${value}`]);
      expect(challengeEvents.rows.map((r) => r.type)).toEqual(['ChallengeIssued', 'ChallengeConsumed']);
      const serialized = (await db.query(`SELECT data::text AS d FROM events WHERE stream_id IN ('actor-alice@example.com', $1)`, [`challenge-${value}`])).rows;
      for (const { d } of serialized) expect(d).not.toContain(token);

      // a bearer route answers with the new token: logout, and the session gets a token again by identify
      expect((await http('PUT', api('/session/revoke'), { headers: bearer(token) })).status).toBe(204);
      expect(await tokenWorks(token)).toBe(false);
      laptop = { ...laptop, token };
    });

    it('verifies a signature made by OpenSSL, base64, in the {challenge, signature} form, with the cert as base64 DER', async () => {
      const { challenge: value } = await challenge('', 1);
      const der = new X509Certificate(laptop.certPem).raw.toString('base64');
      const res = await identify({ challenge: value, signature: opensslSignBase64(laptop.keyPem, value), id_cert: der }, { gateway: 1 });
      expect(res.status).toBe(201);
      expect(await tokenWorks(res.body.token)).toBe(true);
      laptop = { ...laptop, token: res.body.token };
    });

    it('accepts `challenge` as an object, a base64url signature, the cert as a JSON string, and an auth_payload', async () => {
      const { challenge: value } = await challenge();
      const signature = sign(null, Buffer.from(value), createPrivateKey(laptop.keyPem)).toString('base64url');
      const res = await identify({ challenge: { challenge: value, signature }, id_cert: JSON.stringify(laptop.certPem), auth_payload: { note: 'unused' } });
      expect(res.status).toBe(201);
      expect(await tokenWorks(laptop.token)).toBe(false);
      laptop = { ...laptop, token: res.body.token };
    });

    it('reads a JSON body sent without Content-Type (as polyproto-rs sends it), auth_payload null', async () => {
      const { challenge: value } = await challenge();
      const res = await http('POST', api('/session/identify'), { body: JSON.stringify({ ...completed(laptop, value), auth_payload: null }) });
      expect(res.status).toBe(201);
      expect(await tokenWorks(laptop.token)).toBe(false);
      laptop = { ...laptop, token: res.body.token };
    });

    it('refuses a challenge that was already used (401), and a replay of the same request', async () => {
      const { challenge: value } = await challenge();
      const body = completed(laptop, value);
      const first = await identify(body);
      expect(first.status).toBe(201);
      laptop = { ...laptop, token: first.body.token };
      const again = await identify(body);
      expectErrorBody(again, 401, 'P2CORE_CHALLENGE_FAILED');
      expect(again.body.message).toMatch(/already been used/);
      expect(await tokenWorks(first.body.token)).toBe(true);
    });

    it('a retry with the same Idempotency-Key gets the first outcome, the same token', async () => {
      const { challenge: value } = await challenge();
      const headers = { 'idempotency-key': `retry-${value.slice(0, 8)}` };
      const first = await identify(completed(laptop, value), { headers });
      expect(first.status).toBe(201);
      const retry = await identify(completed(laptop, value), { headers, gateway: 1 });
      expect(retry.status).toBe(201);
      expect(retry.body.token).toBe(first.body.token);
      const consumed = await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = $1 AND type = 'ChallengeConsumed'`, [`challenge-${value}`]);
      expect(consumed.rows[0].n).toBe(1);
      expectErrorBody(await identify(completed(laptop, value), { headers: { 'idempotency-key': 'another-key' } }), 401, 'P2CORE_CHALLENGE_FAILED');
      laptop = { ...laptop, token: first.body.token };
    });

    it('refuses a bad signature (401) without using up the challenge', async () => {
      const { challenge: value } = await challenge();
      const otherKey = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      expectErrorBody(await identify(completed(laptop, value, signHex(otherKey, value))), 401, 'P2CORE_CHALLENGE_FAILED');
      expectErrorBody(await identify(completed(laptop, value, signHex(laptop.keyPem, `${value}x`))), 401, 'P2CORE_CHALLENGE_FAILED');
      expectErrorBody(await identify(completed(laptop, value, '00'.repeat(64))), 401, 'P2CORE_CHALLENGE_FAILED');
      const row = await db.query(`SELECT consumed_at FROM challenges WHERE challenge = $1`, [value]);
      expect(row.rows).toEqual([{ consumed_at: null }]);
      const ok = await identify(completed(laptop, value));
      expect(ok.status).toBe(201);
      laptop = { ...laptop, token: ok.body.token };
    });

    it('refuses a challenge this server never issued (401)', async () => {
      for (const value of [randomChallenge(), 'short', 'x'.repeat(64) + '!']) {
        const res = await identify(completed(laptop, value));
        expectErrorBody(res, 401, 'P2CORE_CHALLENGE_FAILED');
        expect(res.body.message).toMatch(/not issued/);
      }
    });

    it('keeps a bound challenge for its actor and session', async () => {
      const forBob = await challenge('?fid=bob@example.com');
      const res = await identify(completed(laptop, forBob.challenge));
      expectErrorBody(res, 401, 'P2CORE_CHALLENGE_FAILED');
      expect(res.body.message).toMatch(/another actor/);
      const forPhone = await challenge('?fid=alice@example.com&session_id=phone');
      expectErrorBody(await identify(completed(laptop, forPhone.challenge)), 401, 'P2CORE_CHALLENGE_FAILED');
      const forLaptop = await challenge('?fid=alice@example.com&session_id=laptop');
      const ok = await identify(completed(laptop, forLaptop.challenge));
      expect(ok.status).toBe(201);
      laptop = { ...laptop, token: ok.body.token };
    });

    it('refuses the cert of a deleted session (403 P2CORE_CERT_INVALIDATED), before looking at the challenge', async () => {
      const gone = await openSession('alice', 'old-phone');
      const sensitive = { ...bearer(laptop.token), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', `${api('/session')}?session_id=old-phone`, { headers: sensitive })).status).toBe(204);
      const { challenge: value } = await challenge();
      expectErrorBody(await identify(completed(gone, value)), 403, 'P2CORE_CERT_INVALIDATED');
      expectErrorBody(await identify(completed(gone, randomChallenge())), 403, 'P2CORE_CERT_INVALIDATED');
      const row = await db.query(`SELECT consumed_at FROM challenges WHERE challenge = $1`, [value]);
      expect(row.rows).toEqual([{ consumed_at: null }]);
    });

    it("answers a foreign home server's cert with 404 P2CORE_NOT_FEDERATED when federation is off", async () => {
      const foreign = certFromAnotherRoot('other.org', 'eve', 'tab');
      const { challenge: value } = await challenge();
      const res = await identify({ completed_challenge: { challenge: value, signature: signHex(foreign.keyPem, value) }, id_cert: foreign.certPem });
      expectErrorBody(res, 404, 'P2CORE_NOT_FEDERATED');
      expect(res.body.message).toMatch(/does not federate/);
      const row = await db.query(`SELECT consumed_at FROM challenges WHERE challenge = $1`, [value]);
      expect(row.rows).toEqual([{ consumed_at: null }]);
    });

    it('refuses a cert that names this server but was not issued by it (400 P2CORE_MALFORMED_CERT)', async () => {
      const forged = certFromAnotherRoot('example.com', 'alice', 'laptop');
      const { challenge: value } = await challenge();
      const res = await identify({ completed_challenge: { challenge: value, signature: signHex(forged.keyPem, value) }, id_cert: forged.certPem });
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_CERT');
      expect(res.body.message).toMatch(/never issued/);
    });

    it('refuses malformed requests with 400, naming the field', async () => {
      const { challenge: value } = await challenge();
      const signature = signHex(laptop.keyPem, value);
      const refused = async (body: Promise<HttpResult>, code: string, field?: string) => {
        const res = await body;
        expectErrorBody(res, 400, code);
        if (field !== undefined) expect(res.body.message).toContain(`"${field}"`);
      };
      await refused(identify({ completed_challenge: { challenge: value, signature }, id_cert: 'garbage' }), 'P2CORE_MALFORMED_CERT');
      await refused(identify({ completed_challenge: { challenge: value, signature } }), 'P2CORE_MALFORMED_CERT', 'id_cert');
      await refused(identify({ completed_challenge: { challenge: value, signature }, id_cert: '  ' }), 'P2CORE_MALFORMED_CERT', 'id_cert');
      await refused(identify({ completed_challenge: { challenge: value, signature }, id_cert: 42 }), 'P2CORE_MALFORMED_CERT', 'id_cert');
      await refused(identify({ completed_challenge: { challenge: value, signature }, id_cert: '"not json' }), 'P2CORE_MALFORMED_CERT');
      await refused(identify({ id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      await refused(identify({ completed_challenge: { challenge: value }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.signature');
      await refused(identify({ completed_challenge: { signature }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.challenge');
      await refused(identify({ completed_challenge: { challenge: value, signature: 'zz' }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.signature');
      // base64 of 63 bytes, hex of 63 bytes
      await refused(identify({ completed_challenge: { challenge: value, signature: Buffer.alloc(63, 1).toString('base64') }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.signature');
      await refused(identify({ completed_challenge: { challenge: value, signature: signature.slice(2) }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.signature');
      await refused(identify({ challenge: { challenge: value, signature: 'zz' }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.signature');
      await refused(identify({ challenge: value, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.signature');
      await refused(identify({ challenge: 42, signature, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge.challenge');
      await refused(identify({ completed_challenge: 'text', id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      await refused(identify({ completed_challenge: [value, signature], id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      await refused(identify({ ...completed(laptop, value), auth_payload: 'text' }), 'P2CORE_MALFORMED_REQUEST', 'auth_payload');
      await refused(identify({ ...completed(laptop, value), auth_payload: [] }), 'P2CORE_MALFORMED_REQUEST', 'auth_payload');
      await refused(identify([completed(laptop, value)]), 'P2CORE_MALFORMED_REQUEST');
      await refused(http('POST', api('/session/identify'), { body: 'plain text' }), 'P2CORE_MALFORMED_REQUEST');
      await refused(http('POST', api('/session/identify')), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      const row = await db.query(`SELECT consumed_at FROM challenges WHERE challenge = $1`, [value]);
      expect(row.rows).toEqual([{ consumed_at: null }]);
    });

    it('concurrent identifies with one challenge and one cert: exactly one 201', async () => {
      const { challenge: value } = await challenge();
      const body = completed(laptop, value);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => identify(body, { gateway: i % 2 })));
      const created = results.filter((r) => r.status === 201);
      expect(created).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 201)) expectErrorBody(r, 401, 'P2CORE_CHALLENGE_FAILED');
      const consumed = await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = $1 AND type = 'ChallengeConsumed'`, [`challenge-${value}`]);
      expect(consumed.rows[0].n).toBe(1);
      const tokens = await db.query(`SELECT token_hash FROM session_tokens WHERE cert_serial = $1`, [laptop.serial]);
      expect(tokens.rows).toEqual([{ token_hash: sha256(created[0]!.body.token) }]);
      laptop = { ...laptop, token: created[0]!.body.token };
    });

    it('concurrent identifies of two actors (two partitions) with one unbound challenge: exactly one 201 each time', async () => {
      const desk = await openSession('bob', 'desk');
      for (let round = 0; round < 4; round++) {
        const { challenge: value } = await challenge();
        const results = await Promise.all([identify(completed(laptop, value), { gateway: 0 }), identify(completed(desk, value), { gateway: 1 })]);
        expect(results.map((r) => r.status).sort()).toEqual([201, 401]);
        expectErrorBody(results.find((r) => r.status === 401)!, 401, 'P2CORE_CHALLENGE_FAILED');
        const consumed = await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = $1 AND type = 'ChallengeConsumed'`, [`challenge-${value}`]);
        expect(consumed.rows[0].n).toBe(1);
        const winner = results[0]!.status === 201 ? 'alice@example.com' : 'bob@example.com';
        const identified = await db.query(
          `SELECT stream_id FROM events WHERE type = 'SessionIdentified' AND stream_id IN ('actor-alice@example.com', 'actor-bob@example.com') AND metadata->>'messageId' IN (
             SELECT metadata->>'messageId' FROM events WHERE stream_id = $1 AND type = 'ChallengeConsumed')`,
          [`challenge-${value}`],
        );
        expect(identified.rows).toEqual([{ stream_id: `actor-${winner}` }]);
        if (results[0]!.status === 201) laptop = { ...laptop, token: results[0]!.body.token };
      }
    });
  });

  describe('POST | PUT /session/idcert/extern', () => {
    let tablet: Session;
    let other: Session;

    beforeAll(async () => {
      tablet = await openSession('alice', 'tablet');
      other = await openSession('alice', 'watch');
    });

    it("accepts the calling session's current cert: raw PEM without Content-Type (POST and PUT), JSON string, {id_cert}, base64 DER", async () => {
      for (const method of ['POST', 'PUT']) {
        const res = await http(method, `${api('/session/idcert/extern')}/`, { headers: bearer(tablet.token), body: tablet.certPem });
        expect({ method, status: res.status, text: res.text }).toEqual({ method, status: 201, text: '' });
      }
      const der = new X509Certificate(tablet.certPem).raw.toString('base64');
      for (const json of [tablet.certPem, { id_cert: tablet.certPem }, der]) {
        expect((await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), json })).status).toBe(201);
      }
      expect((await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), body: der })).status).toBe(201);
    });

    it("refuses another session's or another actor's cert (403 P2CORE_SESSION_MISMATCH)", async () => {
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), body: other.certPem }), 403, 'P2CORE_SESSION_MISMATCH');
      const bobs = await openSession('bob', 'tablet');
      expectErrorBody(await http('POST', api('/session/idcert/extern'), { headers: bearer(tablet.token), body: bobs.certPem }), 403, 'P2CORE_SESSION_MISMATCH');
    });

    it("refuses garbage (400 P2CORE_MALFORMED_CERT), another server's actor's cert (403 P2CORE_SESSION_MISMATCH) and a forged one (400)", async () => {
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), body: 'garbage' }), 400, 'P2CORE_MALFORMED_CERT');
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token) }), 400, 'P2CORE_MALFORMED_CERT');
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), json: { id_cert: 42 } }), 400, 'P2CORE_MALFORMED_CERT');
      const foreign = certFromAnotherRoot('other.org', 'alice', 'tablet');
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), body: foreign.certPem }), 403, 'P2CORE_SESSION_MISMATCH');
      const forged = certFromAnotherRoot('example.com', 'alice', 'tablet');
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { headers: bearer(tablet.token), body: forged.certPem }), 400, 'P2CORE_MALFORMED_CERT');
    });

    it('needs a token (401)', async () => {
      expectErrorBody(await http('PUT', api('/session/idcert/extern'), { body: tablet.certPem }), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('POST', api('/session/idcert/extern'), { body: tablet.certPem, headers: bearer('A'.repeat(43)) }), 401, 'P2CORE_UNAUTHORIZED');
    });
  });

  describe('projections', () => {
    it('challenges and tokens rebuilt from the event log equal the live read models', async () => {
      const live = await snapshotProjections(db);
      expect(live.challenges!.length).toBeGreaterThan(10);
      expect(live.challenges!.some((row) => String(row).includes('"consumed_at":null'))).toBe(true);
      expect(live.challenges!.some((row) => !String(row).includes('"consumed_at":null'))).toBe(true);
      const replayed = await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
      const { rows } = await db.query('SELECT count(*)::int AS n FROM events');
      expect(replayed).toBe(rows[0].n);
      expect(await snapshotProjections(db)).toEqual(live);
    });
  });
});

describe('expiry on a moved clock (the apps share a TestClock)', () => {
  const clock = new TestClock();
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'clock', gateways: 1, certstores: 1, clock });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });

  afterEach(() => clock.resume());

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function signIn(actor: string): Promise<{ token: string; idCert: string; keyPem: string }> {
    expect((await http('POST', api('/register'), { json: { actor_name: actor, auth_payload: { password } } })).status).toBe(201);
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId: 'pad' });
    const trust = await http('POST', api('/session/trust'), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(trust.status).toBe(201);
    return { token: trust.body.token, idCert: trust.body.id_cert, keyPem: csr.keyPem };
  }

  it('accepts a challenge at its expiry instant, refuses one a second later (401) and never consumes it', async () => {
    const carol = await signIn('carol');
    const first = (await http('GET', api('/challenge'))).body as { challenge: string; expires: number };
    const second = (await http('GET', api('/challenge'))).body as { challenge: string; expires: number };
    const identify = (challenge: string) =>
      http('POST', api('/session/identify'), { json: { completed_challenge: { challenge, signature: signHex(carol.keyPem, challenge) }, id_cert: carol.idCert } });

    clock.freeze(new Date(first.expires * 1000));
    expect((await identify(first.challenge)).status).toBe(201);

    clock.freeze(new Date((second.expires + 1) * 1000));
    const res = await identify(second.challenge);
    expectErrorBody(res, 401, 'P2CORE_CHALLENGE_FAILED');
    expect(res.body.message).toMatch(/expired/);
    const events = await db.query(`SELECT type FROM events WHERE stream_id = $1 ORDER BY stream_position`, [`challenge-${second.challenge}`]);
    expect(events.rows).toEqual([{ type: 'ChallengeIssued' }]);
  });

  it("a session token authenticates through its certificate's notAfter, inclusive, and not a second later", async () => {
    const dave = await signIn('dave');
    const notAfter = new Date(new X509Certificate(dave.idCert).validTo);
    const keyMaterial = () => http('GET', api('/session/keymaterial'), { headers: bearer(dave.token) });

    clock.freeze(notAfter);
    expect((await keyMaterial()).status).toBe(200);
    clock.freeze(new Date(notAfter.getTime() + 1000));
    expectErrorBody(await keyMaterial(), 401, 'P2CORE_UNAUTHORIZED');
  });
});

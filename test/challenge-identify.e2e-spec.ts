import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, randomInt, sign, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { createHomeServerRootCert, ed25519SignerFromPrivateKey, issueActorIdCert, readIdCsr } from '@p2/polyproto';
import { Kafka, logLevel } from 'kafkajs';
import { topicNames } from '@p2/contracts';
import { kafkaBrokers, TestClock } from '@p2/testing';
import { ChallengeSigner, CHALLENGE_LENGTH } from '../apps/gateway/src/identify/signed-challenge';
import { ConsumedChallengesPruner, CONSUMED_CHALLENGE_KEPT_AFTER_EXPIRY_MS } from '../apps/certstore/src/retention/consumed-challenges-pruner.service';
import { CommandProbe } from './support/command-probe';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, type HttpResult, bearer } from './support/http';
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

/** A string of the challenge alphabet that this server never issued. */
function alphanumeric(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** How many rows `events` and `processed_commands` hold, and how many records the commands topic ever took. */
async function writes(db: Client, topicPrefix: string): Promise<{ events: number; processedCommands: number; commandRecords: number }> {
  const count = async (table: string) => (await db.query(`SELECT count(*)::int AS n FROM ${table}`)).rows[0].n as number;
  const admin = new Kafka({ clientId: 'e2e-challenge-writes', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topicNames(topicPrefix).commands);
    return { events: await count('events'), processedCommands: await count('processed_commands'), commandRecords: offsets.reduce((sum, o) => sum + Number(o.high), 0) };
  } finally {
    await admin.disconnect();
  }
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

  const expiries = new Map<string, number>();
  const expiresOf = (value: string) => expiries.get(value);

  async function challenge(query = '', gateway = 0): Promise<{ challenge: string; expires: number }> {
    const res = await http('GET', `${api('/challenge', gateway)}${query}`);
    expect(res.status).toBe(200);
    expiries.set(res.body.challenge, res.body.expires);
    return res.body;
  }

  const usedCount = async (value: string) => (await db.query(`SELECT count(*)::int AS n FROM consumed_challenges WHERE challenge = $1`, [value])).rows[0].n as number;

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
    });

    it('writes nothing: N challenges from both gateways add no event, no processed command and no record on the commands topic', async () => {
      const before = await writes(db, cluster.topicPrefix);
      const issued = await Promise.all(Array.from({ length: 40 }, (_, i) => challenge(i % 3 === 0 ? '?fid=alice@example.com' : '', i % 2)));
      expect(new Set(issued.map((c) => c.challenge)).size).toBe(40);
      expect(await writes(db, cluster.topicPrefix)).toEqual(before);
      const challengeEvents = await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id LIKE 'challenge-%' OR type LIKE 'Challenge%'`);
      expect(challengeEvents.rows[0].n).toBe(0);
    });

    it('binds the challenge to fid and session_id when given (query or JSON body), and refuses malformed ones', async () => {
      expect((await challenge('?fid=Alice@Example.com&session_id=laptop')).challenge).toHaveLength(CHALLENGE_LENGTH);
      const byBody = await http('GET', api('/challenge'), { body: JSON.stringify({ fid: 'bob@example.com' }) });
      expect(byBody.status).toBe(200);
      // what the binding does is in 'keeps a bound challenge for its actor and session' below

      expectErrorBody(await http('GET', `${api('/challenge')}?fid=not-a-fid`), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', `${api('/challenge')}?session_id=${'x'.repeat(33)}`), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', `${api('/challenge')}?fid=a@b.c&fid=d@e.f`), 400, 'P2CORE_MALFORMED_REQUEST');
    });
  });

  let laptopSerial = '';

  describe('POST /session/identify', () => {
    let laptop: Session;

    beforeAll(async () => {
      laptop = await openSession('alice', 'laptop');
      laptopSerial = laptop.serial;
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
      // the challenge's use is recorded until its expiry, outside the event log
      const used = await db.query(`SELECT extract(epoch FROM expires_at)::bigint::text AS expires FROM consumed_challenges WHERE challenge = $1`, [value]);
      expect(used.rows).toEqual([{ expires: String(expiresOf(value)) }]);
      const challengeEvents = await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id LIKE 'challenge-%' OR type LIKE 'Challenge%'`);
      expect(challengeEvents.rows[0].n).toBe(0);
      const serialized = (await db.query(`SELECT data::text AS d FROM events WHERE stream_id = 'actor-alice@example.com'`)).rows;
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
      expect(await tokenWorks(res.body.token)).toBe(true);
      expect(await tokenWorks(laptop.token)).toBe(false);
      laptop = { ...laptop, token: res.body.token };
    });

    it('reads a JSON body sent without Content-Type (as polyproto-rs sends it), auth_payload null', async () => {
      const { challenge: value } = await challenge();
      const res = await http('POST', api('/session/identify'), { body: JSON.stringify({ ...completed(laptop, value), auth_payload: null }) });
      expect(res.status).toBe(201);
      expect(await tokenWorks(res.body.token)).toBe(true);
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
      expect(await usedCount(value)).toBe(1);
      const another = await identify(completed(laptop, value), { headers: { 'idempotency-key': 'another-key' } });
      expectErrorBody(another, 401, 'P2CORE_CHALLENGE_FAILED');
      expect(another.body.message).toMatch(/already been used/);
      laptop = { ...laptop, token: first.body.token };
    });

    it('refuses a bad signature (401) without using up the challenge', async () => {
      const { challenge: value } = await challenge();
      const otherKey = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
      expectErrorBody(await identify(completed(laptop, value, signHex(otherKey, value))), 401, 'P2CORE_CHALLENGE_FAILED');
      expectErrorBody(await identify(completed(laptop, value, signHex(laptop.keyPem, `${value}x`))), 401, 'P2CORE_CHALLENGE_FAILED');
      expectErrorBody(await identify(completed(laptop, value, '00'.repeat(64))), 401, 'P2CORE_CHALLENGE_FAILED');
      expect(await usedCount(value)).toBe(0);
      const ok = await identify(completed(laptop, value));
      expect(ok.status).toBe(201);
      laptop = { ...laptop, token: ok.body.token };
    });

    it('refuses a challenge this server never issued: forged, signed with another key, tampered with (401, nothing written)', async () => {
      const { challenge: genuine } = await challenge();
      const { challenge: forBob } = await challenge('?fid=bob@example.com');
      const flip = (value: string, at: number) => value.slice(0, at) + (value[at] === 'A' ? 'B' : 'A') + value.slice(at + 1);
      const otherKey = new ChallengeSigner(randomBytes(32)).issue(Math.floor(Date.now() / 1000) + 300);
      const forged = [alphanumeric(CHALLENGE_LENGTH), alphanumeric(64), otherKey, flip(genuine, 0), flip(genuine, 40), flip(genuine, CHALLENGE_LENGTH - 1), flip(forBob, 60), 'short', 'x'.repeat(64) + '!'];
      const before = await writes(db, cluster.topicPrefix);
      for (const value of forged) {
        const res = await identify(completed(laptop, value));
        expectErrorBody(res, 401, 'P2CORE_CHALLENGE_FAILED');
        expect({ value, message: res.body.message }).toEqual({ value, message: expect.stringMatching(/not issued/) });
      }
      expect(await writes(db, cluster.topicPrefix)).toEqual(before);
      // the genuine one still works
      const ok = await identify(completed(laptop, genuine));
      expect(ok.status).toBe(201);
      laptop = { ...laptop, token: ok.body.token };
    });

    it('keeps a bound challenge for its actor and session', async () => {
      const forBob = await challenge('?fid=bob@example.com');
      const res = await identify(completed(laptop, forBob.challenge));
      expectErrorBody(res, 401, 'P2CORE_CHALLENGE_FAILED');
      expect(res.body.message).toMatch(/another actor/);
      const byBody = await http('GET', api('/challenge'), { body: JSON.stringify({ fid: 'bob@example.com' }) });
      expect((await identify(completed(laptop, byBody.body.challenge))).body.message).toMatch(/another actor/);
      const forPhone = await challenge('?fid=alice@example.com&session_id=phone');
      const phone = await identify(completed(laptop, forPhone.challenge));
      expectErrorBody(phone, 401, 'P2CORE_CHALLENGE_FAILED');
      expect(phone.body.message).toMatch(/another session/);
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
      expectErrorBody(await identify(completed(gone, alphanumeric(CHALLENGE_LENGTH))), 403, 'P2CORE_CERT_INVALIDATED');
      expect(await usedCount(value)).toBe(0);
    });

    it("answers a foreign home server's cert with 404 P2CORE_NOT_FEDERATED when federation is off", async () => {
      const foreign = certFromAnotherRoot('other.org', 'eve', 'tab');
      const { challenge: value } = await challenge();
      const res = await identify({ completed_challenge: { challenge: value, signature: signHex(foreign.keyPem, value) }, id_cert: foreign.certPem });
      expectErrorBody(res, 404, 'P2CORE_NOT_FEDERATED');
      expect(res.body.message).toMatch(/does not federate/);
      expect(await usedCount(value)).toBe(0);
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
      // each form's fields are named as sent
      await refused(identify({ challenge: { challenge: value, signature: 'zz' }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'challenge.signature');
      await refused(identify({ challenge: { signature }, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'challenge.challenge');
      await refused(identify({ challenge: value, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'signature');
      await refused(identify({ challenge: value, signature: 'zz', id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'signature');
      await refused(identify({ challenge: 42, signature, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'challenge');
      await refused(identify({ signature, id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'challenge');
      await refused(identify({ completed_challenge: 'text', id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      await refused(identify({ completed_challenge: [value, signature], id_cert: laptop.certPem }), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      await refused(identify({ ...completed(laptop, value), auth_payload: 'text' }), 'P2CORE_MALFORMED_REQUEST', 'auth_payload');
      await refused(identify({ ...completed(laptop, value), auth_payload: [] }), 'P2CORE_MALFORMED_REQUEST', 'auth_payload');
      await refused(identify([completed(laptop, value)]), 'P2CORE_MALFORMED_REQUEST');
      await refused(http('POST', api('/session/identify'), { body: 'plain text' }), 'P2CORE_MALFORMED_REQUEST');
      await refused(http('POST', api('/session/identify')), 'P2CORE_MALFORMED_REQUEST', 'completed_challenge');
      expect(await usedCount(value)).toBe(0);
    });

    it('the certstore decides again: an expired or used challenge is refused there too, whatever the gateway let through', async () => {
      const probe = new CommandProbe(cluster.topicPrefix);
      await probe.start();
      try {
        const send = async (value: string, challengeExpires: number) => {
          const command = probe.envelope('IdentifySession', {
            federationId: 'alice@example.com',
            sessionId: 'laptop',
            serial: laptop.serial,
            challenge: value,
            challengeExpires,
            signature: signHex(laptop.keyPem, value),
            tokenHash: sha256(randomBytes(32).toString('base64url')),
          });
          await probe.send([command]);
          return probe.replyFor(command.metadata.messageId as string);
        };
        const before = await writes(db, cluster.topicPrefix);
        const now = Math.floor(Date.now() / 1000);
        const expired = await send(alphanumeric(CHALLENGE_LENGTH), now - 5);
        expect(expired).toEqual(expect.objectContaining({ ok: false, error: { code: 'P2CORE_CHALLENGE_FAILED', message: expect.stringMatching(/expired/) } }));
        const { challenge: value } = await challenge();
        const ok = await identify(completed(laptop, value));
        expect(ok.status).toBe(201);
        laptop = { ...laptop, token: ok.body.token };
        const used = await send(value, now + 300);
        expect(used).toEqual(expect.objectContaining({ ok: false, error: { code: 'P2CORE_CHALLENGE_FAILED', message: expect.stringMatching(/already been used/) } }));
        // the refusals appended nothing; the identify in between appended its one event
        expect((await writes(db, cluster.topicPrefix)).events).toBe(before.events + 1);
      } finally {
        await probe.stop();
      }
    });

    it('concurrent identifies with one challenge and one cert: exactly one 201', async () => {
      const { challenge: value } = await challenge();
      const body = completed(laptop, value);
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => identify(body, { gateway: i % 2 })));
      const created = results.filter((r) => r.status === 201);
      expect(created).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 201)) expectErrorBody(r, 401, 'P2CORE_CHALLENGE_FAILED');
      expect(await usedCount(value)).toBe(1);
      for (const r of results.filter((x) => x.status !== 201)) expect(r.body.message).toMatch(/already been used/);
      const tokens = await db.query(`SELECT token_hash FROM session_tokens WHERE cert_serial = $1`, [laptop.serial]);
      expect(tokens.rows).toEqual([{ token_hash: sha256(created[0]!.body.token) }]);
      laptop = { ...laptop, token: created[0]!.body.token };
    });

    it('concurrent identifies of two actors (two partitions) with one unbound challenge: exactly one 201 each time', async () => {
      let desk = await openSession('bob', 'desk');
      const identifiedCount = async () =>
        (await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'SessionIdentified' AND stream_id IN ('actor-alice@example.com', 'actor-bob@example.com')`)).rows[0].n as number;
      for (let round = 0; round < 4; round++) {
        const { challenge: value } = await challenge();
        const identifiedBefore = await identifiedCount();
        const results = await Promise.all([identify(completed(laptop, value), { gateway: 0 }), identify(completed(desk, value), { gateway: 1 })]);
        expect(results.map((r) => r.status).sort()).toEqual([201, 401]);
        expectErrorBody(results.find((r) => r.status === 401)!, 401, 'P2CORE_CHALLENGE_FAILED');
        expect(await usedCount(value)).toBe(1);
        // only the winner's identify reached the log; the loser's token is the one it had
        expect(await identifiedCount()).toBe(identifiedBefore + 1);
        const [winner, loser] = results[0]!.status === 201 ? [laptop, desk] : [desk, laptop];
        const won = results[0]!.status === 201 ? results[0]! : results[1]!;
        const tokenOf = async (session: Session) => (await db.query(`SELECT token_hash FROM session_tokens WHERE cert_serial = $1`, [session.serial])).rows;
        expect(await tokenOf(winner)).toEqual([{ token_hash: sha256(won.body.token) }]);
        expect(await tokenOf(loser)).toEqual([{ token_hash: sha256(loser.token) }]);
        if (winner === laptop) laptop = { ...laptop, token: won.body.token };
        else desk = { ...desk, token: won.body.token };
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
    it('tokens rebuilt from the event log equal the live read models, with the challenge events of an older log in it', async () => {
      // what GET /challenge and identify wrote before challenges were signed: still readable, read by no projection
      const legacy = alphanumeric(64);
      const metadata = (id: string) => JSON.stringify({ messageId: id, correlationId: id, causationId: id, occurredAt: '2026-01-01T00:00:00.000Z', schemaVersion: 1 });
      await db.query(
        `INSERT INTO events (stream_id, stream_position, type, data, metadata) VALUES
           ($1, 1, 'ChallengeIssued', $2, $3), ($1, 2, 'ChallengeConsumed', $4, $5)`,
        [
          `challenge-${legacy}`,
          JSON.stringify({ challenge: legacy, issuedAt: '2026-01-01T00:00:00.000Z', expiresAt: '2026-01-01T00:05:00.000Z', boundFederationId: 'alice@example.com' }),
          metadata('legacy-issue'),
          JSON.stringify({ challenge: legacy, federationId: 'alice@example.com', sessionId: 'laptop', serial: laptopSerial, consumedAt: '2026-01-01T00:01:00.000Z' }),
          metadata('legacy-identify'),
        ],
      );
      const live = await snapshotProjections(db);
      expect(Object.keys(live)).not.toContain('challenges');
      expect(live.session_tokens!.length).toBeGreaterThan(2);
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

  it('accepts a challenge at its expiry instant, refuses one a second later (401) and never records it', async () => {
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
    const used = await db.query(`SELECT challenge FROM consumed_challenges`);
    expect(used.rows).toEqual([{ challenge: first.challenge }]);
  });

  it('deletes the record of a used challenge once it expired long enough, and the challenge stays refused', async () => {
    const erin = await signIn('erin');
    const { challenge, expires } = (await http('GET', api('/challenge'))).body as { challenge: string; expires: number };
    const identify = () => http('POST', api('/session/identify'), { json: { completed_challenge: { challenge, signature: signHex(erin.keyPem, challenge) }, id_cert: erin.idCert } });
    expect((await identify()).status).toBe(201);
    const recorded = async () => (await db.query(`SELECT count(*)::int AS n FROM consumed_challenges WHERE challenge = $1`, [challenge])).rows[0].n as number;
    expect(await recorded()).toBe(1);
    const pruner = cluster.certstore(0).get(ConsumedChallengesPruner);

    clock.freeze(new Date(expires * 1000 + CONSUMED_CHALLENGE_KEPT_AFTER_EXPIRY_MS));
    await pruner.prune();
    expect(await recorded()).toBe(1);
    const reused = await identify();
    expectErrorBody(reused, 401, 'P2CORE_CHALLENGE_FAILED');
    expect(reused.body.message).toMatch(/expired/);

    clock.freeze(new Date(expires * 1000 + CONSUMED_CHALLENGE_KEPT_AFTER_EXPIRY_MS + 1000));
    expect(await pruner.prune()).toBeGreaterThanOrEqual(1);
    expect(await recorded()).toBe(0);
    const afterPruning = await identify();
    expectErrorBody(afterPruning, 401, 'P2CORE_CHALLENGE_FAILED');
    expect(afterPruning.body.message).toMatch(/expired/);
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

import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import * as x509 from '@peculiar/x509';
import { topicNames } from '@p2/contracts';
import { eventually, kafkaBrokers } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { bearer, expectErrorBody, http, type HttpResult } from './support/http';
import { opensslCsr, opensslText, opensslVerify, opensslVerifySignature, type OpensslCsr } from './support/openssl';
import { rebuildFromLog, snapshotProjections } from './support/projections';

/** The first flows of a home server through HTTP → gateway → Kafka → certstore → PostgreSQL,
 * with two gateways and two certstores side by side. */
describe('home server identity, registration and sessions (2 gateways, 2 certstores)', () => {
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string, gateway = 0) => `${cluster.gatewayUrls[gateway]}/.p2/core/v1${path}`;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'sessions', gateways: 2, certstores: 2 });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function register(name: string, gateway = 0) {
    return http('POST', api('/register', gateway), { json: { actor_name: name, auth_payload: { password } } });
  }

  async function rootPem(): Promise<string> {
    const res = await http('GET', api('/idcert/server'));
    expect(res.status).toBe(200);
    return res.body.idCertPem as string;
  }

  describe('health and discovery', () => {
    it('answers /healthz with 200 on every gateway', async () => {
      for (const url of cluster.gatewayUrls) {
        const res = await http('GET', `${url}/healthz`);
        expect(res.status).toBe(200);
        expect(res.body.info).toEqual(expect.objectContaining({ postgres: { status: 'up' }, kafka: { status: 'up' } }));
      }
    });

    it('serves /.well-known/polyproto-core with the absolute API base', async () => {
      const res = await http('GET', `${cluster.url}/.well-known/polyproto-core`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ api: 'https://example.com/.p2/core/' });
    });

    it('answers an unknown route with a polyproto error body', async () => {
      expectErrorBody(await http('GET', api('/no/such/route')), 404, 'P2CORE_NOT_FOUND');
    });
  });

  describe('the home server root ID-Cert', () => {
    it('is a DC-only, self-signed CA cert in the root encoding that OpenSSL accepts', async () => {
      const pem = await rootPem();
      const text = opensslText(pem);
      expect(text).toMatch(/Issuer: DC\s*=\s*com, DC\s*=\s*example\n/);
      expect(text).toMatch(/Subject: DC\s*=\s*com, DC\s*=\s*example\n/);
      expect(text).toMatch(/Public Key Algorithm: ED25519/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE\n/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign\n/);
      expect(opensslVerify(pem, pem).status).toBe(0);
      const cert = new x509.X509Certificate(pem);
      expect(cert.extensions.map((e) => [e.type, e.critical, Buffer.from(e.value).toString('hex')])).toEqual([
        ['2.5.29.19', true, '30030101ff'],
        ['2.5.29.15', true, '03020084'],
      ]);
    });

    it('comes with a cache signature that verifies under the server key', async () => {
      const res = await http('GET', api('/idcert/server/'));
      expect(res.status).toBe(200);
      const { idCertPem, cacheNotValidBefore, cacheNotValidAfter, cacheSignature } = res.body;
      expect(cacheNotValidAfter).toBeGreaterThan(cacheNotValidBefore);
      expect(cacheSignature).toMatch(/^[0-9a-f]{128}$/);
      const cert = new X509Certificate(idCertPem);
      const serial = BigInt(`0x${cert.serialNumber}`).toString(10);
      const payload = Buffer.from(`${serial}${cacheNotValidBefore}${cacheNotValidAfter}`, 'ascii');
      expect(verify(null, payload, cert.publicKey, Buffer.from(cacheSignature, 'hex'))).toBe(true);
      expect(verify(null, Buffer.from(`${serial}${cacheNotValidBefore}${cacheNotValidAfter + 1}`), cert.publicKey, Buffer.from(cacheSignature, 'hex'))).toBe(false);
      // and by the openssl command line, as the certificates are: the server signs with node:crypto, so a
      // node-only check would share its key handling; here OpenSSL takes the key out of the cert itself
      const checked = opensslVerifySignature(idCertPem, payload, Buffer.from(cacheSignature, 'hex'));
      expect(checked).toEqual({ status: 0, output: expect.stringContaining('Signature Verified Successfully') });
      // OpenSSL's own verdict, not a failure to run it (a missing file also exits 1)
      expect(opensslVerifySignature(idCertPem, Buffer.from(`${serial}${cacheNotValidBefore}${cacheNotValidAfter + 1}`), Buffer.from(cacheSignature, 'hex'))).toEqual({
        status: 1,
        output: expect.stringContaining('Signature Verification Failure'),
      });
    });

    it('GET /key/server is the SPKI PEM of the root key, as a JSON string', async () => {
      const res = await http('GET', api('/key/server'));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(typeof res.body).toBe('string');
      expect(res.body).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
      const fromCert = new X509Certificate(await rootPem()).publicKey.export({ format: 'der', type: 'spki' });
      expect(createPublicKey(res.body).export({ format: 'der', type: 'spki' }).equals(fromCert)).toBe(true);
    });

    it('answers at a timestamp (query or JSON body) and 404s before the first root', async () => {
      const now = Math.floor(Date.now() / 1000);
      const byQuery = await http('GET', `${api('/idcert/server')}?timestamp=${now}`);
      expect(byQuery.status).toBe(200);
      const byBody = await http('GET', api('/idcert/server'), { body: JSON.stringify({ timestamp: String(now) }) });
      expect(byBody.body).toEqual(byQuery.body);
      expect(byBody.status).toBe(200);
      expect(byBody.body.idCertPem).toBe(byQuery.body.idCertPem);
      expectErrorBody(await http('GET', `${api('/idcert/server')}?timestamp=1000`), 404, 'P2CORE_NO_CERT_AT_TIME');
      expectErrorBody(await http('GET', `${api('/key/server')}?timestamp=1000`), 404, 'P2CORE_NO_CERT_AT_TIME');
      expectErrorBody(await http('GET', `${api('/key/server')}?timestamp=yesterday`), 400, 'P2CORE_MALFORMED_REQUEST');
    });

    it('exists exactly once although two certstores started together, and its private key is stored encrypted', async () => {
      const { rows } = await db.query(`SELECT type FROM events WHERE stream_id = 'server'`);
      expect(rows).toEqual([{ type: 'ServerKeyGenerated' }]);
      const keys = await db.query(`SELECT encrypted_private_key FROM server_keys`);
      expect(keys.rows).toHaveLength(1);
      expect(keys.rows[0].encrypted_private_key).toMatch(/^v1\./);
      expect(keys.rows[0].encrypted_private_key).not.toMatch(/PRIVATE KEY/);
    });
  });

  describe('POST /register', () => {
    it('creates an identity: 201 with the federation ID, lowercased', async () => {
      const res = await register('Alice');
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ fid: 'alice@example.com' });
      const { rows } = await db.query(`SELECT type, data FROM events WHERE stream_id = 'actor-alice@example.com'`);
      expect(rows).toEqual([{ type: 'ActorRegistered', data: expect.objectContaining({ federationId: 'alice@example.com', localName: 'alice' }) }]);
    });

    it('refuses a taken name, whatever its case: 409 P2CORE_FEDERATION_ID_TAKEN', async () => {
      expect((await register('carol')).status).toBe(201);
      expectErrorBody(await register('carol', 1), 409, 'P2CORE_FEDERATION_ID_TAKEN');
      expectErrorBody(await register('CAROL'), 409, 'P2CORE_FEDERATION_ID_TAKEN');
    });

    it.each([['al ice'], [''], ['a'.repeat(65)], ['zoë'], ['bob@example.com'], ['semi;colon']])('refuses the actor name %j with 400', async (name) => {
      expectErrorBody(await register(name), 400, 'P2CORE_INVALID_ACTOR_NAME');
    });

    it('refuses a missing or short password, a non-object body and broken JSON with 400', async () => {
      expectErrorBody(await http('POST', api('/register'), { json: { actor_name: 'dave' } }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('POST', api('/register'), { json: { actor_name: 'dave', auth_payload: { password: 'short' } } }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('POST', api('/register'), { json: ['dave'] }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('POST', api('/register'), { body: '{"actor_name":', headers: { 'content-type': 'application/json' } }), 400, 'P2CORE_MALFORMED_REQUEST');
      expect(await db.query(`SELECT 1 FROM events WHERE stream_id = 'actor-dave@example.com'`)).toHaveProperty('rowCount', 0);
    });

    it('refuses a password beginning or ending with whitespace or holding a control character (it could never pass a sensitive action: headers lose or refuse them), 400 naming auth_payload.password, and writes nothing', async () => {
      for (const edged of [' correct horse battery staple', 'correct horse battery staple ', '\tcorrect horse battery staple', 'correct horse battery staple\n', 'correct horse battery staple\u00a0']) {
        const res = await http('POST', api('/register'), { json: { actor_name: 'wanda', auth_payload: { password: edged } } });
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect(res.body.message).toBe(
          'The field "auth_payload.password" must not begin or end with whitespace (a space, a tab, a line break): sensitive actions send the password in the X-P2-Sensitive-Solution header, whose surrounding whitespace HTTP strips.',
        );
      }
      // nor a control character anywhere (a header value cannot carry one), but a tab inside
      for (const controlled of ['correct horse\nbattery staple', 'correct horse\u0000battery', 'correct horse\u007fbattery', 'correct\rhorse battery']) {
        const res = await http('POST', api('/register'), { json: { actor_name: 'wanda', auth_payload: { password: controlled } } });
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect([controlled, res.body.message]).toEqual([controlled, expect.stringMatching(/^The field "auth_payload\.password" must not contain a control character/)]);
      }
      expect(await db.query(`SELECT 1 FROM events WHERE stream_id = 'actor-wanda@example.com'`)).toHaveProperty('rowCount', 0);
      // whitespace inside is fine
      expect((await http('POST', api('/register'), { json: { actor_name: 'wanda', auth_payload: { password: 'correct  horse\tbattery staple' } } })).status).toBe(201);
    });

    it('reads a JSON body sent without Content-Type and serves the trailing-slash path (polyproto-rs)', async () => {
      const res = await http('POST', `${api('/register')}/`, { body: JSON.stringify({ actor_name: 'erin', auth_payload: { password } }) });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ fid: 'erin@example.com' });
    });

    it('never puts the password or its hash into an event', async () => {
      const { rows } = await db.query(`SELECT data::text AS data FROM events`);
      for (const row of rows) {
        expect(row.data).not.toContain(password);
        expect(row.data).not.toContain('scrypt$');
      }
      const creds = await db.query(`SELECT password_hash FROM actor_credentials WHERE federation_id = 'alice@example.com'`);
      expect(creds.rows[0].password_hash).toMatch(/^scrypt\$16384\$8\$1\$/);
    });
  });

  describe('POST /session/trust', () => {
    beforeAll(async () => {
      expect((await register('frank')).status).toBe(201);
    });

    /** The answer opened the session the CSR asked for: a cert of the root for the CSR's subject and
     * key, and a token the gateway takes. */
    async function expectSessionOf(csr: OpensslCsr, res: HttpResult): Promise<void> {
      expect(res.status).toBe(201);
      const cert = new x509.X509Certificate(res.body.id_cert);
      const request = new x509.Pkcs10CertificateRequest(csr.csrPem);
      expect(Buffer.from(cert.publicKey.rawData).toString('hex')).toBe(Buffer.from(request.publicKey.rawData).toString('hex'));
      expect(Buffer.from(cert.subjectName.toArrayBuffer()).toString('hex')).toBe(Buffer.from(request.subjectName.toArrayBuffer()).toString('hex'));
      expect(opensslVerify(await rootPem(), res.body.id_cert)).toEqual({ status: 0, output: expect.stringContaining('OK') });
      // 204 when nothing is waiting, 200 when another session's opening already is; an unknown token is a 401
      const events = await http('GET', api('/events'), { headers: bearer(res.body.token) });
      expect([200, 204]).toContain(events.status);
    }

    it('signs the ID-CSR: the cert verifies with openssl against the root and carries exactly BC then KU', async () => {
      const csr = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'laptop-1' });
      const res = await http('POST', api('/session/trust'), { json: { actor_name: 'frank', csr: csr.csrPem, auth_payload: { password } } });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(['id_cert', 'token']);
      expect(res.body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const certPem: string = res.body.id_cert;
      const root = await rootPem();
      expect(opensslVerify(root, certPem)).toEqual({ status: 0, output: expect.stringContaining('OK') });

      const cert = new x509.X509Certificate(certPem);
      expect(cert.extensions.map((e) => [e.type, e.critical, Buffer.from(e.value).toString('hex')])).toEqual([
        ['2.5.29.19', true, '3003010100'],
        ['2.5.29.15', true, '03020080'],
      ]);
      const rootCert = new x509.X509Certificate(root);
      expect(Buffer.from(cert.issuerName.toArrayBuffer()).equals(Buffer.from(rootCert.subjectName.toArrayBuffer()))).toBe(true);
      // subject = the CSR's subject bytes
      const csrObj = new x509.Pkcs10CertificateRequest(csr.csrPem);
      expect(Buffer.from(cert.subjectName.toArrayBuffer()).equals(Buffer.from(csrObj.subjectName.toArrayBuffer()))).toBe(true);
      expect(Buffer.from(cert.publicKey.rawData).equals(Buffer.from(csrObj.publicKey.rawData))).toBe(true);

      const text = opensslText(certPem);
      expect(text).toMatch(/Version: 3 \(0x2\)/);
      expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:FALSE\n/);
      expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\n/);
      const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
      expect(lifetime).toBe(30 * 86_400_000 + 60_000);
      expect(Math.abs(cert.notBefore.getTime() - (Date.now() - 60_000))).toBeLessThan(30_000);
      const serial = BigInt(`0x${cert.serialNumber}`);
      expect(serial >= 1n && serial <= 2n ** 64n - 1n).toBe(true);

      // only the token's hash is stored; the event log never sees the token
      const tokenHash = createHash('sha256').update(res.body.token).digest('hex');
      const stored = await db.query(`SELECT federation_id, session_id, cert_serial::text AS serial FROM session_tokens WHERE token_hash = $1`, [tokenHash]);
      expect(stored.rows).toEqual([{ federation_id: 'frank@example.com', session_id: 'laptop-1', serial: serial.toString() }]);
      const leaks = await db.query(`SELECT 1 FROM events WHERE data::text LIKE $1`, [`%${res.body.token}%`]);
      expect(leaks.rowCount).toBe(0);
      // the cache information of the new cert is signed by the key holder at issuance (docs/protocol.md#cache-information)
      const cache = await db.query(
        `SELECT cache_not_valid_before::text AS nb, cache_not_valid_after::text AS na, signature FROM cache_signatures WHERE serial = $1`,
        [serial.toString()],
      );
      expect(cache.rows).toHaveLength(1);
      const { nb, na, signature } = cache.rows[0];
      const rootKey = new X509Certificate(root).publicKey;
      expect(verify(null, Buffer.from(`${serial}${nb}${na}`), rootKey, Buffer.from(signature, 'hex'))).toBe(true);
      const events = await db.query(`SELECT type FROM events WHERE stream_id = 'actor-frank@example.com' ORDER BY stream_position`);
      expect(events.rows.map((r) => r.type)).toEqual(['ActorRegistered', 'SessionOpened', 'IdCertIssued']);
    });

    it('answers 409 P2CORE_SESSION_ID_IN_USE for a session ID held by a valid cert, through either gateway', async () => {
      const first = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'phone' });
      expect((await http('POST', api('/session/trust', 1), { json: { actor_name: 'frank', csr: first.csrPem, auth_payload: { password } } })).status).toBe(201);
      const again = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'phone' });
      const res = await http('POST', api('/session/trust', 0), { json: { actor_name: 'frank', csr: again.csrPem, auth_payload: { password } } });
      expectErrorBody(res, 409, 'P2CORE_SESSION_ID_IN_USE');
      const other = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'tablet' });
      expect((await http('POST', api('/session/trust', 0), { json: { actor_name: 'frank', csr: other.csrPem, auth_payload: { password } } })).status).toBe(201);
    });

    it('answers 401 P2CORE_INVALID_CREDENTIALS for a wrong password or an unknown actor, and writes nothing', async () => {
      const csr = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'x' });
      expectErrorBody(await http('POST', api('/session/trust'), { json: { actor_name: 'frank', csr: csr.csrPem, auth_payload: { password: 'wrong password' } } }), 401, 'P2CORE_INVALID_CREDENTIALS');
      const ghost = opensslCsr({ localName: 'ghost', domain: 'example.com', sessionId: 'x' });
      expectErrorBody(await http('POST', api('/session/trust'), { json: { actor_name: 'ghost', csr: ghost.csrPem, auth_payload: { password } } }), 401, 'P2CORE_INVALID_CREDENTIALS');
      const sessions = await db.query(`SELECT 1 FROM id_certs WHERE session_id = 'x'`);
      expect(sessions.rowCount).toBe(0);
    });

    it('answers 400 P2CORE_INVALID_CSR naming the rule for CSRs that break the profile', async () => {
      const cases = [
        opensslCsr({ localName: 'bob', domain: 'example.com', sessionId: 's' }), // another actor's UID
        opensslCsr({ localName: 'frank', domain: 'example.org', sessionId: 's' }), // another server's domain
        opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 's', keyUsage: 'critical,digitalSignature,keyCertSign' }),
        opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 's', basicConstraints: 'critical,CA:TRUE' }),
        opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 's', subject: '/DC=com/DC=example/UID=frank@example.com/0.9.2342.19200300.100.1.44=s' }),
        opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 's', subject: '/DC=com/DC=example/CN=frank@example.com/UID=frank@example.com/0.9.2342.19200300.100.1.44=s' }),
      ];
      for (const csr of cases) {
        const res = await http('POST', api('/session/trust'), { json: { actor_name: 'frank', csr: csr.csrPem, auth_payload: { password } } });
        expectErrorBody(res, 400, 'P2CORE_INVALID_CSR');
      }
      expectErrorBody(await http('POST', api('/session/trust'), { json: { actor_name: 'frank', csr: 'not a csr', auth_payload: { password } } }), 400, 'P2CORE_INVALID_CSR');
      expectErrorBody(await http('POST', api('/session/trust'), { json: { actor_name: 'frank', auth_payload: { password } } }), 400, 'P2CORE_MALFORMED_REQUEST');
      const cnIsFid = await http('POST', api('/session/trust'), { json: { actor_name: 'frank', csr: cases[5]!.csrPem, auth_payload: { password } } });
      // the message states the rule itself, without citing documents a client cannot read
      expect(cnIsFid.body.message).toMatch(/CN must be the local part of the federation ID, not the full federation ID/);
      expect(cnIsFid.body.message).not.toMatch(/profile|digest|§/);
    });

    it('accepts the CSR as base64 DER too', async () => {
      const csr = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'b64' });
      const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64').toString('base64');
      const res = await http('POST', api('/session/trust'), { json: { actor_name: 'FRANK', csr: der, auth_payload: { password } } });
      await expectSessionOf(csr, res);
    });

    it('accepts the CSR field as a JSON string holding the PEM (docs/protocol.md#pem-fields)', async () => {
      const csr = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'json-string' });
      const res = await http('POST', api('/session/trust'), { json: { actor_name: 'frank', csr: JSON.stringify(csr.csrPem), auth_payload: { password } } });
      await expectSessionOf(csr, res);
    });
  });

  describe('the event relay', () => {
    it('publishes committed events in order to the events topic, without secrets', async () => {
      const kafka = new Kafka({ clientId: 'e2e-relay-reader', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
      const consumer = kafka.consumer({ groupId: `e2e-relay-${Date.now()}` });
      const seen: { key: string; type: string; messageId: string; value: string }[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: topicNames(cluster.topicPrefix).events, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          const value = message.value!.toString();
          const parsed = JSON.parse(value);
          seen.push({ key: message.key!.toString(), type: parsed.type, messageId: parsed.metadata.messageId, value });
        },
      });
      try {
        const frank = await eventually(() => seen.filter((m) => m.key === 'actor-frank@example.com'), {
          until: (list) => list.length >= 3,
          timeoutMs: 20000,
        });
        expect(frank.slice(0, 3).map((m) => [m.type, m.messageId])).toEqual([
          ['ActorRegistered', 'actor-frank@example.com@1'],
          ['SessionOpened', 'actor-frank@example.com@2'],
          ['IdCertIssued', 'actor-frank@example.com@3'],
        ]);
        expect(seen.some((m) => m.type === 'ServerKeyGenerated' && m.key === 'server')).toBe(true);
        for (const m of seen) {
          expect(m.value).not.toContain(password);
          expect(m.value).not.toMatch(/PRIVATE KEY|scrypt\$/);
        }
      } finally {
        await consumer.disconnect();
      }
    });
  });

  describe('projections', () => {
    it('rebuilt from the event log equal the live read models', async () => {
      const live = await snapshotProjections(db);
      expect(live.id_certs!.length).toBeGreaterThan(3);
      const replayed = await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
      const { rows } = await db.query('SELECT count(*)::int AS n FROM events');
      expect(replayed).toBe(rows[0].n);
      expect(await snapshotProjections(db)).toEqual(live);
    });
  });
});

import { createPrivateKey, generateKeyPairSync, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { createServer as createHttpServer, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import { createServer } from 'node:net';
import { Client } from 'pg';
import {
  buildIdCsr,
  createHomeServerRootCert,
  ed25519SignerFromPrivateKey,
  issueActorIdCert,
  readIdCert,
  readIdCertSerial,
  readIdCsr,
  signCacheableIdCert,
  type Ed25519Signer,
} from '@p2/polyproto';
import { eventually, TestClock } from '@p2/testing';
import { requireKeyEncryptionKey } from '@p2/config';
import { HomeServerUnreachable } from '../apps/gateway/src/federation/federation-http.client';
import { ForeignCertVerifier } from '../apps/gateway/src/federation/foreign-cert.verifier';
import { ForeignCertsRefresher } from '../apps/gateway/src/federation/foreign-certs.refresher';
import { decryptPrivateKey } from '../apps/certstore/src/signing/key-encryption';
import { TestCluster } from './support/cluster';
import { GatewayClient } from './support/gateway-client';
import { expectErrorBody, http, type HttpResult, bearer } from './support/http';
import { rebuildFromLog, snapshotProjections } from './support/projections';

/** A session key held by the test (the client), and the cert its home server issued for it. */
interface Client_ {
  readonly fid: string;
  readonly sessionId: string;
  readonly key: KeyObject;
  certPem: string;
  token?: string;
}

const password = 'correct horse battery staple';
const serialOf = (pem: string) => BigInt(`0x${new X509Certificate(pem).serialNumber}`).toString();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function newKey(): { key: KeyObject; signer: Ed25519Signer } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { key: privateKey, signer: ed25519SignerFromPrivateKey(privateKey) };
}

/** A cert for `fid` signed by a root this test made up (nobody published it). */
function forgedCert(rootDomain: string, fid: string, sessionId: string): Client_ {
  const root = newKey();
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
  const notAfter = new Date(notBefore.getTime() + 86_400_000);
  const rootCert = createHomeServerRootCert({ domain: rootDomain, serial: 4242n, notBefore, notAfter, signer: root.signer });
  const session = newKey();
  const [localName, domain] = fid.split('@') as [string, string];
  const csr = readIdCsr(buildIdCsr({ signer: session.signer, federationId: fid, sessionId }).pem, { domain, actorLocalName: localName });
  const cert = issueActorIdCert({ csr, issuerSubjectDer: rootCert.subjectDer, serial: 4243n, notBefore, notAfter, signer: root.signer });
  return { fid, sessionId, key: session.key, certPem: cert.pem };
}

/** A root of r.example: its cert, its key, and since when r.example uses it. */
interface RotatedRoot {
  readonly cert: ReturnType<typeof createHomeServerRootCert>;
  readonly signer: Ed25519Signer;
  readonly since: number;
}

/**
 * r.example, a home server this test plays over real HTTP (docs/protocol.md#federation-discovery).
 * It rotated its root from P to C a day ago, before b.example first heard of it, and answers: its
 * current root, which is C unless it is made to name P (a restored backup of it, or its old answer
 * replayed); its root at a time (`?timestamp=`); and a session's certs with 2025 cache windows
 * signed by the key of the root it names current. Roots are answered with `Cache-Control:
 * no-store`, so b.example asks for the current one at every sign-in.
 */
class RotatedHomeServer {
  static readonly domain = 'r.example';
  readonly P: RotatedRoot;
  readonly C: RotatedRoot;
  named: 'P' | 'C' = 'C';
  /** where it answers, once started */
  url = '';
  private readonly listed = new Map<string, string>();
  private serial = 7000n;
  private readonly server = createHttpServer((req, res) => this.answer(new URL(req.url ?? '/', 'http://r.example'), res));

  private constructor() {
    const now = Math.floor(Date.now() / 1000) * 1000;
    const root = (serial: bigint, since: number, days: number): RotatedRoot => {
      const { signer } = newKey();
      const cert = createHomeServerRootCert({ domain: RotatedHomeServer.domain, serial, notBefore: new Date(since - 60_000), notAfter: new Date(now + days * 86_400_000), signer });
      return { cert, signer, since };
    };
    this.P = root(71n, now - 3 * 86_400_000, 30);
    this.C = root(72n, now - 86_400_000, 60);
  }

  static async start(): Promise<RotatedHomeServer> {
    const home = new RotatedHomeServer();
    await new Promise<void>((resolve) => home.server.listen(0, '127.0.0.1', resolve));
    home.url = `http://127.0.0.1:${(home.server.address() as { port: number }).port}`;
    return home;
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** A cert of alice@r.example's session `sessionId` signed by `root`, starting at `notBefore`, listed from now on. */
  issue(root: 'P' | 'C', sessionId: string, notBefore: Date): Client_ {
    const { cert, signer } = this[root];
    const session = newKey();
    const fid = `alice@${RotatedHomeServer.domain}`;
    const csr = readIdCsr(buildIdCsr({ signer: session.signer, federationId: fid, sessionId }).pem, { domain: RotatedHomeServer.domain, actorLocalName: 'alice' });
    const notAfter = new Date(Date.now() + 86_400_000);
    const issued = issueActorIdCert({ csr, issuerSubjectDer: cert.subjectDer, serial: ++this.serial, notBefore, notAfter, signer });
    this.listed.set(sessionId, issued.pem);
    return { fid, sessionId, key: session.key, certPem: issued.pem };
  }

  private answer(url: URL, res: ServerResponse): void {
    const json = (status: number, body: unknown, cacheControl = 'no-store'): void =>
      void res.writeHead(status, { 'content-type': 'application/json', 'cache-control': cacheControl }).end(JSON.stringify(body));
    if (url.pathname === '/.p2/core/v1/idcert/server') {
      const timestamp = url.searchParams.get('timestamp');
      if (timestamp === null) return json(200, this[this.named].cert.pem);
      const at = Number(timestamp) * 1000;
      const then = at >= this.C.since ? this.C : at >= this.P.since ? this.P : undefined;
      return then ? json(200, then.cert.pem) : json(404, { errcode: 404, error: 'P2CORE_NO_CERT_AT_TIME', message: 'no root then' });
    }
    const actor = '/.p2/core/v1/idcert/actor/';
    if (url.pathname.startsWith(actor) && decodeURIComponent(url.pathname.slice(actor.length)) === `alice@${RotatedHomeServer.domain}`) {
      const pem = this.listed.get(url.searchParams.get('session_id') ?? '');
      if (!pem) return json(200, []);
      const now = Math.floor(Date.now() / 1000);
      const window = { cacheNotValidBefore: now - 60, cacheNotValidAfter: now + 3600 };
      // a statement b.example may keep a while: a sign-in uses it right after asking
      return json(200, [signCacheableIdCert({ idCertPem: pem, serial: readIdCertSerial(pem), ...window, signer: this[this.named].signer })], 'max-age=300');
    }
    return json(404, { errcode: 404, error: 'P2CORE_ACTOR_NOT_FOUND', message: 'r.example has only alice' });
  }
}

/**
 * Federation end to end (docs/protocol.md#federation): two home servers, a.example and b.example,
 * each a gateway and a certstore with its own database and topic prefix on the real Kafka broker
 * and PostgreSQL, each pointed at the other by P2_FEDERATION_RESOLVE on loopback. alice@a.example
 * signs in on b.example with a challenge. b.example reaches a.example through a proxy that passes
 * its answers on, unless a test has it answer as a.example would once changed (alterA).
 */
describe('federation: actors of a.example sign in on b.example', () => {
  let a: TestCluster;
  let b: TestCluster;
  let rotated: RotatedHomeServer;
  const clockB = new TestClock();
  let dbB: Client;
  let aliceToken: string;
  let proxyA: Server;
  /** for a request of b.example to a.example (its path): an answer in a.example's place, or a
   * connection closed without one ('unreachable'); undefined passes a.example's own answer on */
  let alterA: ((path: string) => { status: number; body: unknown } | 'unreachable' | undefined) | undefined;
  const apiA = (path: string) => `${a.url}/.p2/core/v1${path}`;
  const apiB = (path: string) => `${b.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    const [portA, portB, portProxyA] = [await freePort(), await freePort(), await freePort()];
    rotated = await RotatedHomeServer.start();
    a = await TestCluster.start({
      label: 'fed-a',
      gatewayPort: portA,
      env: { P2_DOMAIN: 'a.example', P2_ADMINS: 'admin', P2_FEDERATION_RESOLVE: `b.example=http://127.0.0.1:${portB}` },
    });
    proxyA = createHttpServer((req, res) => {
      const altered = alterA?.(req.url ?? '/');
      if (altered === 'unreachable') return void res.destroy();
      if (altered) return void res.writeHead(altered.status, { 'content-type': 'application/json' }).end(JSON.stringify(altered.body));
      // a connection per request: none kept open to a.example's gateway when it stops (a.url is
      // gone then; its port stays, refusing connections)
      const upstream = httpRequest(`http://127.0.0.1:${portA}${req.url ?? '/'}`, { agent: false, headers: { accept: 'application/json' } }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      // a.example stopped: b.example sees the connection end without an answer
      upstream.on('error', () => res.destroy());
      upstream.end();
    });
    // longer than b.example keeps an idle connection (5 s): it must never send on one closed here
    proxyA.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => proxyA.listen(portProxyA, '127.0.0.1', resolve));
    b = await TestCluster.start({
      label: 'fed-b',
      gatewayPort: portB,
      clock: clockB,
      env: {
        P2_DOMAIN: 'b.example',
        // c.example is answered by a.example's server: its root names a.example, not c.example
        // r.example is played by this test (RotatedHomeServer)
        P2_FEDERATION_RESOLVE: `a.example=http://127.0.0.1:${portProxyA},c.example=http://127.0.0.1:${portA}/.p2/core/,r.example=${rotated.url}`,
        P2_FEDERATION_CACHE_MAX_SECONDS: '600',
        // the refresher runs when a test says so (refreshNow): on its own it could learn of a rotation
        // before the client has announced the new cert, which the rotation test does not expect
        P2_FEDERATION_REFRESH_SECONDS: '3600',
      },
    });
    dbB = new Client({ connectionString: b.databaseUrl });
    await dbB.connect();
    for (const [cluster, name] of [[a, 'alice'], [b, 'bob']] as const) {
      const res = await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password } } });
      expect(res.status).toBe(201);
    }
    await a.createAdmin('admin', password);
  });

  afterAll(async () => {
    await dbB?.end();
    await b?.stop();
    proxyA?.closeAllConnections();
    if (proxyA) await new Promise((resolve) => proxyA.close(resolve));
    await a?.stop();
    await rotated?.stop();
  });

  /** One refresher round on b.example that asks again about everything it knows. */
  const refreshNow = () => b.gatewayApp(0).get(ForeignCertsRefresher).round(clockB.now(), clockB.now());

  /** A new session of `name` on its home server `home` (POST /session/trust). */
  async function openSession(home: TestCluster, domain: string, name: string, sessionId: string): Promise<Client_ & { homeToken: string }> {
    const { key, signer } = newKey();
    const fid = `${name}@${domain}`;
    const res = await http('POST', `${home.url}/.p2/core/v1/session/trust`, {
      json: { actor_name: name, csr: buildIdCsr({ signer, federationId: fid, sessionId }).pem, auth_payload: { password } },
    });
    expect(res.status).toBe(201);
    return { fid, sessionId, key, certPem: res.body.id_cert, homeToken: res.body.token };
  }

  /** GET /challenge then POST /session/identify on b.example. */
  async function signInOnB(client: Client_, options: { signWith?: KeyObject } = {}): Promise<HttpResult> {
    const challenge = await http('GET', apiB('/challenge'));
    expect(challenge.status).toBe(200);
    const value: string = challenge.body.challenge;
    const signature = sign(null, Buffer.from(value, 'utf8'), options.signWith ?? client.key).toString('hex');
    return http('POST', apiB('/session/identify'), { json: { completed_challenge: { challenge: value, signature }, id_cert: client.certPem } });
  }

  const eventsOnB = (token: string) => http('GET', apiB('/events'), { headers: bearer(token) });

  let laptop: Client_ & { homeToken: string };

  describe('signing in', () => {
    it('alice@a.example signs in on b.example with a challenge and gets a token for a foreign session', async () => {
      laptop = await openSession(a, 'a.example', 'alice', 'laptop');
      const res = await signInOnB(laptop);
      expect(res.status).toBe(201);
      expect(res.body).toEqual({ token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
      aliceToken = res.body.token;
      laptop.token = aliceToken;

      const root = await dbB.query(`SELECT domain, is_current, superseded_at FROM foreign_server_certs`);
      expect(root.rows).toEqual([{ domain: 'a.example', is_current: true, superseded_at: null }]);
      const cert = await dbB.query(`SELECT serial::text AS serial, issuer_domain, invalidated_at, cache_signature IS NOT NULL AS signed FROM foreign_id_certs WHERE federation_id = 'alice@a.example'`);
      expect(cert.rows).toEqual([{ serial: serialOf(laptop.certPem), issuer_domain: 'a.example', invalidated_at: null, signed: true }]);
      const token = await dbB.query(`SELECT federation_id, session_id, cert_serial, is_foreign FROM session_tokens WHERE is_foreign`);
      expect(token.rows).toEqual([{ federation_id: 'alice@a.example', session_id: 'laptop', cert_serial: null, is_foreign: true }]);
      const streams = await dbB.query(`SELECT DISTINCT stream_id FROM events WHERE stream_id LIKE 'foreign-%' ORDER BY stream_id`);
      expect(streams.rows.map((r) => r.stream_id)).toEqual(['foreign-alice@a.example#laptop', 'foreign-server-a.example']);
    });

    it('the foreign token works on /events and KeyPackage claims', async () => {
      expect((await eventsOnB(aliceToken)).status).toBe(204);
      const bob = await openSession(b, 'b.example', 'bob', 'desk');
      const keyPackage = { protocol_version: 'mls10', cipher_suite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', init_key: 'q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=', leaf_node: 'AAEAAgADAAQ=', extensions: [] };
      expect((await http('POST', apiB('/keypackage/@me'), { headers: bearer(bob.homeToken), json: [keyPackage] })).status).toBe(201);
      const claimed = await http('GET', apiB('/keypackage/bob@b.example'), { headers: bearer(aliceToken) });
      expect(claimed.status).toBe(200);
      expect(claimed.body).toEqual([expect.objectContaining({ init_key: keyPackage.init_key })]);
    });

    it('the foreign token is refused on routes for b.example’s own actors (403 P2CORE_HOME_ACTORS_ONLY)', async () => {
      const sensitive = { ...bearer(aliceToken), 'x-p2-sensitive-solution': password };
      const refused: [string, string, Record<string, unknown>][] = [
        ['GET', '/session/keymaterial', {}],
        ['POST', '/session/keymaterial', { json: { key_data: 'x', serial_number: '1' } }],
        ['DELETE', '/session/keymaterial?serials=1', { headers: sensitive }],
        ['POST', '/keypackage/@me', { json: [] }],
        ['PUT', '/keypackage_lr', { json: {} }],
        ['POST', '/session/idcert', { headers: sensitive, body: 'csr' }],
        ['POST', '/idcert', { headers: sensitive, body: 'csr' }],
        ['DELETE', '/session?session_id=laptop', { headers: sensitive }],
        ['PUT', '/key/server', { headers: sensitive }],
      ];
      for (const [method, path, options] of refused) {
        const res = await http(method, apiB(path), { headers: bearer(aliceToken), ...options });
        expectErrorBody(res, 403, 'P2CORE_HOME_ACTORS_ONLY');
        expect(res.body.message).toContain('alice@a.example');
      }
      expect((await eventsOnB(aliceToken)).status).toBe(204);
    });

    it('signing in again gives a new token and ends the previous one (one token per foreign session)', async () => {
      const res = await signInOnB(laptop);
      expect(res.status).toBe(201);
      expectErrorBody(await eventsOnB(aliceToken), 401, 'P2CORE_UNAUTHORIZED');
      aliceToken = res.body.token;
      laptop.token = aliceToken;
      expect((await eventsOnB(aliceToken)).status).toBe(204);
    });

    it('a challenge signed with another key is refused before a.example is asked (401)', async () => {
      const spare = await openSession(a, 'a.example', 'alice', 'spare');
      expectErrorBody(await signInOnB(spare, { signWith: newKey().key }), 401, 'P2CORE_CHALLENGE_FAILED');
      const recorded = await dbB.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = 'foreign-alice@a.example#spare'`);
      expect(recorded.rows[0].n).toBe(0);
      expect((await signInOnB(spare)).status).toBe(201);
      const after = await dbB.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = 'foreign-alice@a.example#spare'`);
      expect(after.rows[0].n).toBeGreaterThan(0);
    });
  });

  describe('what b.example refuses', () => {
    it('a cert from a root whose DCs do not match the actor’s domain (404 P2CORE_NOT_FEDERATED)', async () => {
      const cert = forgedCert('c.example', 'alice@c.example', 'laptop');
      const res = await signInOnB(cert);
      expectErrorBody(res, 404, 'P2CORE_NOT_FEDERATED');
      // why c.example's answer was refused (its root names a.example) is in b.example's log, not the answer
      expect(res.body.message).toBe('The home server c.example could not be asked, and it has not vouched for this ID-Cert here before.');
      expect((await dbB.query(`SELECT 1 FROM foreign_server_certs WHERE domain = 'c.example'`)).rows).toEqual([]);
    });

    it('a cert signed by a key a.example never published (400 P2CORE_MALFORMED_CERT)', async () => {
      const res = await signInOnB(forgedCert('a.example', 'alice@a.example', 'laptop'));
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_CERT');
      expect(res.body.message).toMatch(/any root certificate a\.example has published/);
    });

    it('an expired cert, although a.example’s own key signed it (403 P2CORE_CERT_INVALIDATED)', async () => {
      const dbA = new Client({ connectionString: a.databaseUrl });
      await dbA.connect();
      try {
        const [root] = (await dbA.query(`SELECT serial::text AS serial, pem FROM server_certs WHERE active_until IS NULL`)).rows;
        const [sealed] = (await dbA.query(`SELECT encrypted_private_key FROM server_keys WHERE serial = $1`, [root.serial])).rows;
        const signer = ed25519SignerFromPrivateKey(
          createPrivateKey({ key: decryptPrivateKey(requireKeyEncryptionKey(a.config()), sealed.encrypted_private_key, root.serial), format: 'der', type: 'pkcs8' }),
        );
        const rootCert = readIdCert(root.pem, { target: 'home-server' });
        const session = newKey();
        const csr = readIdCsr(buildIdCsr({ signer: session.signer, federationId: 'alice@a.example', sessionId: 'old' }).pem, { domain: 'a.example', actorLocalName: 'alice' });
        const notBefore = rootCert.notBefore;
        const cert = issueActorIdCert({ csr, issuerSubjectDer: rootCert.subjectDer, serial: 777n, notBefore, notAfter: new Date(notBefore.getTime() + 5000), signer });
        const res = await signInOnB({ fid: 'alice@a.example', sessionId: 'old', key: session.key, certPem: cert.pem });
        expectErrorBody(res, 403, 'P2CORE_CERT_INVALIDATED');
        expect(res.body.message).toMatch(/outside its validity/);
      } finally {
        await dbA.end();
      }
    });

    it('a cert a.example has invalidated (its session deleted there); the foreign token dies with it', async () => {
      const phone = await openSession(a, 'a.example', 'alice', 'phone');
      const first = await signInOnB(phone);
      expect(first.status).toBe(201);
      const sensitive = { ...bearer(phone.homeToken), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', apiA('/session?session_id=phone'), { headers: sensitive })).status).toBe(204);
      const res = await signInOnB(phone);
      expectErrorBody(res, 403, 'P2CORE_CERT_INVALIDATED');
      expect(res.body.message).toMatch(/invalidated by its home server a\.example/);
      expectErrorBody(await eventsOnB(first.body.token), 401, 'P2CORE_UNAUTHORIZED');
      const row = await dbB.query(`SELECT invalidated_at IS NOT NULL AS invalidated FROM foreign_id_certs WHERE federation_id = 'alice@a.example' AND session_id = 'phone'`);
      expect(row.rows).toEqual([{ invalidated: true }]);
    });

    it('an invalidation is found by the refresher too, without the cert being presented again', async () => {
      const tablet = await openSession(a, 'a.example', 'alice', 'tablet');
      const signedIn = await signInOnB(tablet);
      expect(signedIn.status).toBe(201);
      const sensitive = { ...bearer(tablet.homeToken), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', apiA('/session?session_id=tablet'), { headers: sensitive })).status).toBe(204);
      await refreshNow();
      await eventually(async () => expectErrorBody(await eventsOnB(signedIn.body.token), 401, 'P2CORE_UNAUTHORIZED'), { timeoutMs: 30000 });
      const invalidated = await dbB.query(`SELECT data FROM events WHERE stream_id = 'foreign-alice@a.example#tablet' AND type = 'ForeignIdCertInvalidated'`);
      expect(invalidated.rows).toEqual([{ data: expect.objectContaining({ serial: serialOf(tablet.certPem), tokenHash: expect.stringMatching(/^[0-9a-f]{64}$/) }) }]);
    });
  });

  describe('rotation, announcement and logout', () => {
    it('a.example rotates alice’s cert; /session/idcert/extern on b.example makes it current and the token stays valid', async () => {
      const oldCert = laptop.certPem;
      const { key, signer } = newKey();
      const rotated = await http('POST', apiA('/session/idcert'), {
        headers: { ...bearer(laptop.homeToken), 'x-p2-sensitive-solution': password },
        body: buildIdCsr({ signer, federationId: 'alice@a.example', sessionId: 'laptop' }).pem,
      });
      expect(rotated.status).toBe(201);
      const newCert: string = rotated.body.id_cert;

      expect((await http('PUT', apiB('/session/idcert/extern'), { headers: bearer(aliceToken), body: newCert })).status).toBe(201);
      expect((await eventsOnB(aliceToken)).status).toBe(204);
      const current = await dbB.query(`SELECT current_serial::text AS serial FROM foreign_sessions WHERE federation_id = 'alice@a.example' AND session_id = 'laptop'`);
      expect(current.rows).toEqual([{ serial: serialOf(newCert) }]);

      expectErrorBody(await signInOnB({ ...laptop, certPem: oldCert }), 403, 'P2CORE_CERT_INVALIDATED');
      expectErrorBody(await http('PUT', apiB('/session/idcert/extern'), { headers: bearer(aliceToken), body: oldCert }), 403, 'P2CORE_CERT_INVALIDATED');
      laptop = { ...laptop, key, certPem: newCert, homeToken: rotated.body.token };
      const again = await signInOnB(laptop);
      expect(again.status).toBe(201);
      aliceToken = again.body.token;
    });

    it('extern refuses another session’s cert (403 P2CORE_SESSION_MISMATCH) and garbage (400)', async () => {
      const other = await openSession(a, 'a.example', 'alice', 'watch');
      expectErrorBody(await http('PUT', apiB('/session/idcert/extern'), { headers: bearer(aliceToken), body: other.certPem }), 403, 'P2CORE_SESSION_MISMATCH');
      expectErrorBody(await http('POST', apiB('/session/idcert/extern'), { headers: bearer(aliceToken), body: 'garbage' }), 400, 'P2CORE_MALFORMED_CERT');
    });

    it('a WebSocket of the foreign session outlives its old cert once the newer one was announced, and closes (4003) when that one ends', async () => {
      const notAfterOf = (pem: string) => readIdCert(pem, { target: 'actor' }).notAfter.getTime();
      const oldEnd = notAfterOf(laptop.certPem);
      // a.example's certs end 30 days after issue, in whole seconds: issued a second later, the new one ends later
      await eventually(() => Date.now(), { until: (now) => now + 30 * 86_400_000 >= oldEnd + 1000, timeoutMs: 3000, what: 'a later second' });
      const socket = await GatewayClient.connect(b.url);
      try {
        await socket.identify(aliceToken);
        const { key, signer } = newKey();
        const rotated = await http('POST', apiA('/session/idcert'), {
          headers: { ...bearer(laptop.homeToken), 'x-p2-sensitive-solution': password },
          body: buildIdCsr({ signer, federationId: 'alice@a.example', sessionId: 'laptop' }).pem,
        });
        expect(rotated.status).toBe(201);
        laptop = { ...laptop, key, certPem: rotated.body.id_cert, homeToken: rotated.body.token };
        const newEnd = notAfterOf(laptop.certPem);
        expect(newEnd).toBeGreaterThan(oldEnd);
        expect((await http('PUT', apiB('/session/idcert/extern'), { headers: bearer(aliceToken), body: laptop.certPem })).status).toBe(201);
        // b.example's clock between the two ends: the token still works, and so does the socket
        clockB.freeze(new Date(oldEnd + 500));
        expect((await eventsOnB(aliceToken)).status).toBe(204);
        await socket.sync();
        // before: closed (4003) here, at the end of the cert the socket identified with
        expect(socket.closed).toBeUndefined();
        clockB.freeze(new Date(newEnd + 500));
        await socket.sync();
        expect(socket.closed?.code).toBe(4003);
      } finally {
        clockB.resume();
        clockB.advance(Date.now() - clockB.now().getTime());
        socket.close();
      }
    });

    it('the foreign token identifies on the WebSocket; logout on b.example ends it (4003 there, 401 on REST); the cert can sign in again', async () => {
      const socket = await GatewayClient.connect(b.url);
      try {
        await socket.identify(aliceToken);
        expect(socket.closed).toBeUndefined();
        expect((await http('PUT', apiB('/session/revoke'), { headers: bearer(aliceToken) })).status).toBe(204);
        expect((await socket.closedWith()).code).toBe(4003);
      } finally {
        socket.close();
      }
      expectErrorBody(await eventsOnB(aliceToken), 401, 'P2CORE_UNAUTHORIZED');
      const again = await signInOnB(laptop);
      expect(again.status).toBe(201);
      aliceToken = again.body.token;
    });
  });

  describe('a compromised key rotation on a.example', () => {
    it('invalidates every cert of the old root on b.example too: the foreign tokens die, and new certs sign in', async () => {
      const admin = await openSession(a, 'a.example', 'admin', 'console');
      const res = await http('PUT', `${apiA('/key/server')}?compromised=true`, { headers: { ...bearer(admin.homeToken), 'x-p2-sensitive-solution': password } });
      expect(res.status).toBe(200);
      await eventually(
        async () => {
          await refreshNow();
          expectErrorBody(await eventsOnB(aliceToken), 401, 'P2CORE_UNAUTHORIZED');
        },
        { timeoutMs: 30000 },
      );
      const roots = await dbB.query(`SELECT is_current, superseded_at IS NOT NULL AS superseded FROM foreign_server_certs WHERE domain = 'a.example' ORDER BY fetched_at`);
      expect(roots.rows).toEqual([
        { is_current: false, superseded: true },
        { is_current: true, superseded: false },
      ]);
      expectErrorBody(await signInOnB(laptop), 403, 'P2CORE_CERT_INVALIDATED');
      const desk = await openSession(a, 'a.example', 'alice', 'desk');
      const signedIn = await signInOnB(desk);
      expect(signedIn.status).toBe(201);
      aliceToken = signedIn.body.token;
    });
  });

  describe('the refresher when some home server stops answering', () => {
    it('certs whose asking fails wait their backoff, so an invalidation further down the list is still found', async () => {
      const kiosk = await openSession(a, 'a.example', 'alice', 'kiosk');
      const signedIn = await signInOnB(kiosk);
      expect(signedIn.status).toBe(201);
      // every foreign cert signed in before kiosk was confirmed before it, so comes before it in a round
      const [{ n: others }] = (await dbB.query(`SELECT count(*)::int - 1 AS n FROM session_tokens WHERE is_foreign`)).rows;
      expect(others).toBeGreaterThan(0);
      const sensitive = { ...bearer(kiosk.homeToken), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', apiA('/session?session_id=kiosk'), { headers: sensitive })).status).toBe(204);

      // the home server of every other cert no longer answers (as a.example would if it stopped,
      // or a domain of an attacker's with as many sessions as a round takes); the round takes only
      // as many certs as there are others, as 200 rounds would with 200 such certs
      const verifier = b.gatewayApp(0).get(ForeignCertVerifier);
      const recheck = verifier.recheck.bind(verifier);
      const asked: string[] = [];
      const spy = jest.spyOn(verifier, 'recheck').mockImplementation(async (cert, now) => {
        asked.push(cert.sessionId);
        if (cert.sessionId === 'kiosk') return recheck(cert, now);
        throw new HomeServerUnreachable(`${cert.federationId.domain} stopped answering`);
      });
      try {
        const refresher = b.gatewayApp(0).get(ForeignCertsRefresher);
        for (let round = 0; round < 3; round++) await refresher.round(clockB.now(), clockB.now(), others);
      } finally {
        spy.mockRestore();
      }
      expect(asked.filter((s) => s !== 'kiosk')).toHaveLength(others);
      expect(asked).toContain('kiosk');
      await eventually(async () => expectErrorBody(await eventsOnB(signedIn.body.token), 401, 'P2CORE_UNAUTHORIZED'), { timeoutMs: 30000 });
    });
  });

  describe('a domain b.example first meets after its key rotation (docs/protocol.md#foreign-invalidation)', () => {
    const rootsOfR = async () =>
      (await dbB.query(`SELECT serial::text AS serial, is_current, superseded_at IS NOT NULL AS superseded FROM foreign_server_certs WHERE domain = 'r.example' ORDER BY serial`)).rows;
    let old: Client_;
    /** the live token of each session signed in here */
    const tokens = new Map<string, string>();

    it('a cert of the old root P signs in; P, learnt only as the root of the cert’s time, is recorded superseded beside the current root C', async () => {
      old = rotated.issue('P', 'old', new Date(Date.now() - 2 * 86_400_000));
      const res = await signInOnB(old);
      expect({ status: res.status, error: res.body?.error, message: res.body?.message }).toEqual({ status: 201, error: undefined, message: undefined });
      tokens.set(old.sessionId, res.body.token);
      expect(await rootsOfR()).toEqual([
        { serial: '71', is_current: false, superseded: true },
        { serial: '72', is_current: true, superseded: false },
      ]);
    });

    it('a restored backup naming P current is refused (404 P2CORE_NOT_FEDERATED), by the refresher and at sign-in; C keeps working, and so do P’s certs', async () => {
      const fresh = rotated.issue('C', 'new', new Date(Date.now() - 60_000));
      rotated.named = 'P';
      try {
        await refreshNow();
        expect(await rootsOfR()).toEqual([
          { serial: '71', is_current: false, superseded: true },
          { serial: '72', is_current: true, superseded: false },
        ]);
        const refused = await signInOnB(fresh);
        expectErrorBody(refused, 404, 'P2CORE_NOT_FEDERATED');
        expect(refused.body.message).toBe(
          'The home server of r.example names as its current root 71, which it replaced before; this server does not go back to a replaced key.',
        );
      } finally {
        rotated.named = 'C';
      }
      // r.example answers for itself again: its current root and P's still valid cert both sign in
      for (const client of [fresh, old]) {
        const res = await signInOnB(client);
        expect({ session: client.sessionId, status: res.status, message: res.body?.message }).toEqual({ session: client.sessionId, status: 201, message: undefined });
        expect((await eventsOnB(res.body.token)).status).toBe(204);
        tokens.set(client.sessionId, res.body.token);
      }
      expect(await rootsOfR()).toEqual([
        { serial: '71', is_current: false, superseded: true },
        { serial: '72', is_current: true, superseded: false },
      ]);
    });

    it('P as an older version left it (not superseded) stays so when a refresh names C current again: a rebuild marks it, not a refresh at some later time (README "Upgrading")', async () => {
      const rowsOf = async () =>
        (await dbB.query(`SELECT serial::text AS serial, superseded_at, fetched_at FROM foreign_server_certs WHERE domain = 'r.example' ORDER BY serial`)).rows as {
          serial: string;
          superseded_at: Date | null;
          fetched_at: Date;
        }[];
      const [p, c] = await rowsOf();
      expect(p!.superseded_at).toBeInstanceOf(Date);
      await dbB.query(`UPDATE foreign_server_certs SET superseded_at = NULL WHERE domain = 'r.example' AND serial = '71'`);
      try {
        await refreshNow();
        const [pAfter, cAfter] = await rowsOf();
        // the refresh did record C as current again (a later fetch), and left P as it was
        expect(cAfter!.fetched_at.getTime()).toBeGreaterThan(c!.fetched_at.getTime());
        expect(pAfter!.superseded_at).toBeNull();
      } finally {
        // as the rebuild will have it: the projections test below compares the two
        await dbB.query(`UPDATE foreign_server_certs SET superseded_at = $1 WHERE domain = 'r.example' AND serial = '71'`, [p!.superseded_at]);
      }
    });

    it('a home server slow to answer holds back only its own certs in a refresher round: r.example’s are asked while a.example’s hang', async () => {
      // three more live sessions of a.example, then two of r.example confirmed after them: asked one
      // after another, least recently confirmed first, r.example's would wait behind a.example's (as
      // they would behind the certs of an attacker's domain that answers each asking just inside the deadline)
      const slow: string[] = [];
      for (const sessionId of ['slow-1', 'slow-2', 'slow-3']) {
        const res = await signInOnB(await openSession(a, 'a.example', 'alice', sessionId));
        expect(res.status).toBe(201);
        slow.push(res.body.token);
      }
      for (const sessionId of ['new-2', 'new-3']) {
        const client = rotated.issue('C', sessionId, new Date(Date.now() - 60_000));
        const res = await signInOnB(client);
        expect(res.status).toBe(201);
        tokens.set(client.sessionId, res.body.token);
      }
      const verifier = b.gatewayApp(0).get(ForeignCertVerifier);
      const recheck = verifier.recheck.bind(verifier);
      const started: string[] = [];
      const answered: string[] = [];
      let release!: () => void;
      const hanging = new Promise<void>((resolve) => (release = resolve));
      const spy = jest.spyOn(verifier, 'recheck').mockImplementation(async (cert, now) => {
        started.push(cert.federationId.domain);
        if (cert.federationId.domain === 'a.example') await hanging;
        const word = await recheck(cert, now);
        answered.push(`${cert.federationId.domain} ${cert.sessionId}`);
        return word;
      });
      let round: Promise<void> | undefined;
      try {
        round = refreshNow();
        // (P's cert "old" is not in the round: its asking failed in the test above, and it waits its backoff)
        await eventually(async () => expect(answered).toEqual(expect.arrayContaining(['r.example new-2', 'r.example new-3'])), { timeoutMs: 20000 });
        // a.example's hanging certs hold their domain's two lanes, no more
        expect(started.filter((d) => d === 'a.example')).toHaveLength(2);
        expect(answered.filter((a) => a.startsWith('a.example'))).toEqual([]);
        release();
        await round;
        // then the rest of a.example's were asked too
        expect(answered.filter((a) => a.startsWith('a.example'))).toEqual(expect.arrayContaining(['a.example slow-1', 'a.example slow-2', 'a.example slow-3']));

        // a round of two certs takes one of each domain, in turns: not the two least recently
        // confirmed, which are r.example's now (a.example's were answered after all of them)
        started.length = 0;
        await b.gatewayApp(0).get(ForeignCertsRefresher).round(clockB.now(), clockB.now(), 2);
        expect(started.sort()).toEqual(['a.example', 'r.example']);
      } finally {
        release();
        await round?.catch(() => undefined);
        spy.mockRestore();
        for (const token of slow) expect((await http('PUT', apiB('/session/revoke'), { headers: bearer(token) })).status).toBe(204);
      }
    });

    afterAll(async () => {
      // no live foreign session of r.example left: the projections test below needs the refresher to stop writing
      for (const token of tokens.values()) expect((await http('PUT', apiB('/session/revoke'), { headers: bearer(token) })).status).toBe(204);
    });
  });

  describe('a.example no longer lists a cert', () => {
    afterEach(() => {
      alterA = undefined;
    });

    it.each([
      ['lists no cert of the session any more (deleted there)', 'gone', { status: 200, body: [] }],
      ['answers 404 P2CORE_ACTOR_NOT_FOUND (rebuilt without alice)', 'rebuilt', { status: 404, body: { errcode: 404, error: 'P2CORE_ACTOR_NOT_FOUND', message: 'no such actor' } }],
    ])('a.example %s: the refresher ends the foreign token (401, WebSocket 4003) and the cert is refused for good, also when a.example cannot be asked', async (_label, sessionId, answer) => {
      const client = await openSession(a, 'a.example', 'alice', sessionId);
      const signedIn = await signInOnB(client);
      expect(signedIn.status).toBe(201);
      const socket = await GatewayClient.connect(b.url);
      try {
        await socket.identify(signedIn.body.token);
        alterA = (path) => (path.includes('/idcert/actor/alice@a.example') && path.includes(`session_id=${sessionId}`) ? answer : undefined);
        await refreshNow();
        expect((await socket.closedWith()).code).toBe(4003);
      } finally {
        socket.close();
      }
      await eventually(async () => expectErrorBody(await eventsOnB(signedIn.body.token), 401, 'P2CORE_UNAUTHORIZED'), { timeoutMs: 30000 });
      // what the refresher recorded: the last two events of the session's stream
      const recorded = await dbB.query(`SELECT type, data FROM events WHERE stream_id = $1 ORDER BY stream_position`, [`foreign-alice@a.example#${sessionId}`]);
      const serial = serialOf(client.certPem);
      const [statement, ended] = recorded.rows.slice(-2);
      expect(statement).toEqual({ type: 'ForeignIdCertCached', data: expect.objectContaining({ serial, notListed: true, invalidatedAt: expect.any(String) }) });
      expect(statement.data).not.toHaveProperty('cache');
      expect(ended).toEqual({ type: 'ForeignIdCertInvalidated', data: expect.objectContaining({ serial, tokenHash: expect.stringMatching(/^[0-9a-f]{64}$/) }) });

      // a.example asked again: still not listed
      const asked = await signInOnB(client);
      expectErrorBody(asked, 403, 'P2CORE_CERT_INVALIDATED');
      expect(asked.body.message).toBe(`The home server a.example does not list the ID-Cert ${serial}.`);
      // a.example cannot be asked: the word cached at sign-in, still inside its window, no longer lets it in
      alterA = () => 'unreachable';
      const unreachable = await signInOnB(client);
      expectErrorBody(unreachable, 403, 'P2CORE_CERT_INVALIDATED');
      expect(unreachable.body.message).toBe(`The ID-Cert ${serial} is invalidated by its home server.`);
      // a.example lists it again: ended here for good
      alterA = undefined;
      expectErrorBody(await signInOnB(client), 403, 'P2CORE_CERT_INVALIDATED');
    });

    it('a cert a.example does not list yet is refused at sign-in and nothing is kept of it: once listed, it signs in', async () => {
      const client = await openSession(a, 'a.example', 'alice', 'unlisted');
      alterA = (path) => (path.includes('/idcert/actor/alice@a.example') && path.includes('session_id=unlisted') ? { status: 200, body: [] } : undefined);
      const refused = await signInOnB(client);
      expectErrorBody(refused, 403, 'P2CORE_CERT_INVALIDATED');
      expect(refused.body.message).toBe(`The home server a.example does not list the ID-Cert ${serialOf(client.certPem)}.`);
      const certRows = () => dbB.query(`SELECT invalidated_at IS NOT NULL AS invalidated FROM foreign_id_certs WHERE federation_id = 'alice@a.example' AND session_id = 'unlisted'`);
      expect((await certRows()).rows).toEqual([]);
      // nothing cached: a.example unreachable is an unreachable home server, not an ended cert
      alterA = () => 'unreachable';
      expectErrorBody(await signInOnB(client), 404, 'P2CORE_NOT_FEDERATED');
      // a.example lists it (a replica caught up): it signs in, and the session works
      alterA = undefined;
      const signedIn = await signInOnB(client);
      expect({ status: signedIn.status, message: signedIn.body?.message }).toEqual({ status: 201, message: undefined });
      expect((await certRows()).rows).toEqual([{ invalidated: false }]);
      expect((await eventsOnB(signedIn.body.token)).status).toBe(204);
      expect((await http('PUT', apiB('/session/revoke'), { headers: bearer(signedIn.body.token) })).status).toBe(204);
    });

    it('announcing the current cert once a.example no longer lists it (PUT /session/idcert/extern) ends it, and the token with it', async () => {
      const client = await openSession(a, 'a.example', 'alice', 'announced');
      const signedIn = await signInOnB(client);
      expect(signedIn.status).toBe(201);
      alterA = (path) => (path.includes('/idcert/actor/alice@a.example') && path.includes('session_id=announced') ? { status: 200, body: [] } : undefined);
      const res = await http('PUT', apiB('/session/idcert/extern'), { headers: bearer(signedIn.body.token), body: client.certPem });
      expectErrorBody(res, 403, 'P2CORE_CERT_INVALIDATED');
      await eventually(async () => expectErrorBody(await eventsOnB(signedIn.body.token), 401, 'P2CORE_UNAUTHORIZED'), { timeoutMs: 30000 });
    });
  });

  describe('projections', () => {
    it('the foreign read models rebuilt from b.example’s log equal the live ones', async () => {
      // no live foreign session left: the refresher stops writing, so the log stands still
      expect((await http('PUT', apiB('/session/revoke'), { headers: bearer(aliceToken) })).status).toBe(204);
      await eventually(
        async () => {
          const live = await snapshotProjections(dbB);
          expect(live.foreign_id_certs!.length).toBeGreaterThan(3);
          // a.example's two roots and r.example's two
          expect(live.foreign_server_certs).toHaveLength(4);
          await rebuildFromLog(b.databaseUrl, b.keyEncryptionKey);
          expect(await snapshotProjections(dbB)).toEqual(live);
        },
        { timeoutMs: 20000, intervalMs: 500 },
      );
    });
  });

  describe('a.example unreachable', () => {
    it('a cached confirmation still signs in while it is valid, and no longer once it has expired', async () => {
      const desk = await openSession(a, 'a.example', 'alice', 'sofa');
      expect((await signInOnB(desk)).status).toBe(201);
      await a.stopGateway(0);
      const cached = await signInOnB(desk);
      expect(cached.status).toBe(201);
      expect((await eventsOnB(cached.body.token)).status).toBe(204);
      // b.example's clock moves past P2_FEDERATION_CACHE_MAX_SECONDS (a.example signs 6-hour windows)
      clockB.advance(601_000);
      const res = await signInOnB(desk);
      expectErrorBody(res, 404, 'P2CORE_NOT_FEDERATED');
      expect(res.body.message).toMatch(/could not be asked.*expired/);
      // nothing of how the asking failed (the address, ECONNREFUSED): a probe of this server's network learns nothing
      expect(res.body.message).toBe('The home server a.example could not be asked, and its last word on this ID-Cert has expired here.');
      clockB.advance(-601_000);
      expect((await signInOnB(desk)).status).toBe(201);
    });
  });
});

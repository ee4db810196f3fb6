import { ProcessMetrics } from '@p2/observability';
import { eventually } from '@p2/testing';
import { ReadCache, actorKey } from '../apps/gateway/src/read-cache/read-cache';
import { TokenCache } from '../apps/gateway/src/read-cache/token-cache';
import { SessionLookup } from '../apps/gateway/src/auth/session-lookup';
import { hashToken } from '../apps/gateway/src/auth/session-token';
import { ConnectionRegistry } from '../apps/gateway/src/live-events/connection-registry';
import { ReadDatabase } from '../apps/gateway/src/read-models/read-database';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, type HttpResult, bearer } from './support/http';
import { opensslCsr } from './support/openssl';

/** The gateways' read and token caches (docs/architecture.md#read-cache), end to end with two
 * gateways: a write is seen at once through the gateway that sent it (its reply) and through the
 * other one when the event arrives; HTTP validators and freshness (docs/protocol.md#http-caching). */
describe('read cache (2 gateways)', () => {
  let cluster: TestCluster;
  const password = 'correct horse battery staple';
  const api = (gateway: number, path: string) => `${cluster.gatewayUrls[gateway]}/.p2/core/v1${path}`;
  const sensitive = (token: string) => ({ ...bearer(token), 'x-p2-sensitive-solution': password });
  const readCache = (gateway: number) => cluster.gatewayApp(gateway).get(ReadCache);
  const tokenCache = (gateway: number) => cluster.gatewayApp(gateway).get(TokenCache);

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'readcache', gateways: 2, certstores: 1, env: { P2_ADMINS: 'root' } });
    for (const name of ['rita', 'sam', 'tess']) {
      expect((await http('POST', api(0, '/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
    }
    await cluster.createAdmin('root', password);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  async function openSession(gateway: number, name: string, sessionId: string): Promise<{ token: string; certPem: string }> {
    const csr = opensslCsr({ localName: name, domain: 'example.com', sessionId });
    const res = await http('POST', api(gateway, '/session/trust'), { json: { actor_name: name, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return { token: res.body.token, certPem: res.body.id_cert };
  }

  /** Reads twice, so that the second answer can come from the cache. */
  async function warm(gateway: number, path: string): Promise<HttpResult> {
    const first = await http('GET', api(gateway, path));
    expect(first.status).toBe(200);
    const second = await http('GET', api(gateway, path));
    expect(second.text).toBe(first.text);
    return second;
  }

  const maxAge = (res: HttpResult) => Number(/^public, max-age=(\d+)$/.exec(res.headers.get('cache-control') ?? '')?.[1]);
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  it('gives the cert answers a strong ETag, a max-age within their cache window, and 304 for If-None-Match', async () => {
    await openSession(0, 'rita', 'desk');
    const server = await warm(0, '/idcert/server');
    const etag = server.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(maxAge(server)).toBeGreaterThan(0);
    expect(maxAge(server)).toBeLessThanOrEqual(server.body.cacheNotValidAfter - nowSeconds() + 1);
    expect(readCache(0).lookup('idcert/server')).toBeDefined();

    const notModified = await http('GET', api(0, '/idcert/server'), { headers: { 'if-none-match': `W/"other", ${etag}` } });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    expect(notModified.headers.get('etag')).toBe(etag);
    expect((await http('GET', api(0, '/idcert/server'), { headers: { 'if-none-match': '"other"' } })).status).toBe(200);

    // rita's session events may still be on their way, and drop a fill they race
    const actor = await eventually(
      async () => {
        const res = await warm(0, '/idcert/actor/rita@example.com');
        expect(readCache(0).lookup(actorKey('idcert', 'rita@example.com'))).toBeDefined();
        return res;
      },
      { timeoutMs: 10000 },
    );
    expect(actor.body).toHaveLength(1);
    expect(maxAge(actor)).toBeLessThanOrEqual(actor.body[0].cacheNotValidAfter - nowSeconds() + 1);

    // the 2024 key forms carry no cache window: validators only, to be revalidated
    for (const path of ['/key/server', '/key/actor/rita@example.com']) {
      const res = await warm(0, path);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      // same bytes, same ETag on the other gateway, on its first (uncached) answer too
      const other = await http('GET', api(1, path), { headers: { 'if-none-match': res.headers.get('etag')! } });
      expect(other.status).toBe(304);
    }
  });

  it('answers a cached read before the framework with the headers the framework sends, for GET, HEAD and 304, and counts it', async () => {
    const path = '/key/actor/rita@example.com';
    const route = { route: '/.p2/core/v1/key/actor/:fid' };
    const counted = async (method: string, status: number) => {
      const text = await cluster.gatewayApp(0).get(ProcessMetrics).exposition();
      const line = text.split('\n').find((l) => l.startsWith('p2_http_requests_total{') && [`route="${route.route}"`, `method="${method}"`, `status="${status}"`].every((label) => l.includes(label)));
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const headers = (res: HttpResult) => Object.fromEntries([...res.headers].filter(([name]) => !['date', 'x-request-id'].includes(name)));
    const asBrowser = (id: string, more: Record<string, string> = {}) => ({ origin: 'https://client.example', 'x-request-id': id, ...more });

    // As above, an event of an earlier write (this suite's registrations and session opens) may
    // still be on its way and forget the entry at any point of the sequence, so it is run again
    // until no invalidation came in between; what the entry answers is checked each time.
    await eventually(
      async () => {
        readCache(0).forgetActor('rita@example.com');
        const filled = await http('GET', api(0, path), { headers: asBrowser('fill-1') });
        expect(filled.status).toBe(200);
        expect(readCache(0).lookup(actorKey('key', 'rita@example.com'))).toBeDefined();
        const before = { get: await counted('GET', 200), head: await counted('HEAD', 200), notModified: await counted('GET', 304) };

        const cached = await http('GET', api(0, path), { headers: asBrowser('hit-1') });
        expect(cached.text).toBe(filled.text);
        expect(headers(cached)).toEqual(headers(filled));
        expect(headers(cached)).toEqual(expect.objectContaining({ 'access-control-allow-origin': '*', vary: 'Origin', etag: expect.any(String), 'cache-control': 'no-cache' }));
        expect(cached.headers.get('x-request-id')).toBe('hit-1');
        expect((await http('GET', api(0, path))).headers.get('access-control-allow-origin')).toBeNull();

        const head = await http('HEAD', api(0, path), { headers: asBrowser('head-1') });
        expect(head.status).toBe(200);
        expect(head.text).toBe('');
        expect(headers(head)).toEqual(headers(filled));
        expect(head.headers.get('x-request-id')).toBe('head-1');

        const notModified = await http('GET', api(0, path), { headers: asBrowser('etag-1', { 'if-none-match': filled.headers.get('etag')! }) });
        expect(notModified.status).toBe(304);
        expect(notModified.text).toBe('');
        expect(notModified.headers.get('etag')).toBe(filled.headers.get('etag'));
        expect(notModified.headers.get('access-control-allow-origin')).toBe('*');
        expect(notModified.headers.get('x-request-id')).toBe('etag-1');

        // the first GET filled the cache (counted as a 200 before `before`); the two after it, the HEAD and the 304 were counted too
        expect(await counted('GET', 200)).toBe(before.get + 2);
        expect(await counted('HEAD', 200)).toBe(before.head + 1);
        expect(await counted('GET', 304)).toBe(before.notModified + 1);
      },
      { timeoutMs: 20000 },
    );
  });

  it('gives a HEAD that the framework answers (a cache miss) the validators of its GET, and 304 for If-None-Match', async () => {
    for (const path of ['/key/actor/rita@example.com', '/idcert/actor/rita@example.com', '/key/server', '/idcert/server']) {
      // a fresh answer for the GET too: an entry filled earlier counts its max-age from its own fill
      readCache(1).forgetAll();
      const get = await http('GET', api(1, path));
      expect(get.status).toBe(200);
      const validators = (res: HttpResult) => ({ etag: res.headers.get('etag'), cacheControl: res.headers.get('cache-control'), type: res.headers.get('content-type') });
      const expected = validators(get);
      expect(expected.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);

      // forgotten right before, so the pre-router misses and the framework's HEAD route answers
      readCache(1).forgetAll();
      const head = await http('HEAD', api(1, path));
      expect(head.status).toBe(200);
      expect(head.text).toBe('');
      expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(get.text)));
      // the max-age counts down with the clock: compared apart from the other validators
      expect({ ...validators(head), cacheControl: undefined }).toEqual({ ...expected, cacheControl: undefined });
      if (expected.cacheControl === 'no-cache') expect(head.headers.get('cache-control')).toBe('no-cache');
      else expect(maxAge(head)).toBeLessThanOrEqual(maxAge(get));

      readCache(1).forgetAll();
      const notModified = await http('HEAD', api(1, path), { headers: { 'if-none-match': expected.etag! } });
      expect(notModified.status).toBe(304);
      expect(notModified.headers.get('etag')).toBe(expected.etag);
    }
  });

  it('leaves the other forms to the controller: query, body and non-canonical federation IDs', async () => {
    const res = await http('GET', `${api(0, '/key/actor/rita@example.com')}?session_id=desk`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBeNull();
    const escaped = await http('GET', api(0, '/key/actor/rita%40example.com'));
    expect(escaped.status).toBe(200);
    expect(escaped.headers.get('etag')).toBeNull();
    expectErrorBody(await http('GET', api(0, '/key/actor/nobody@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
    expect(readCache(0).lookup(actorKey('key', 'nobody@example.com'))).toBeUndefined();
  });

  it('answers a rotation and a session deletion at once through the writing gateway, and through the other one soon after', async () => {
    const phone = await openSession(0, 'sam', 'phone');
    for (const gateway of [0, 1]) {
      await warm(gateway, '/key/actor/sam@example.com');
      await warm(gateway, '/idcert/actor/sam@example.com');
    }
    const rotated = await http('POST', api(0, '/session/idcert'), {
      headers: sensitive(phone.token),
      json: { csr: opensslCsr({ localName: 'sam', domain: 'example.com', sessionId: 'phone' }).csrPem },
    });
    expect(rotated.status).toBe(201);
    const expected = { idcerts: [phone.certPem, rotated.body.id_cert], invalidated: [true, false] };
    // the same gateway: the very next read
    expect((await http('GET', api(0, '/key/actor/sam@example.com'))).body).toEqual(expected);
    expect((await http('GET', api(0, '/idcert/actor/sam@example.com'))).body.map((c: { invalidated: boolean }) => c.invalidated)).toEqual([true, false]);
    // the other gateway: once the event arrived
    await eventually(async () => expect((await http('GET', api(1, '/key/actor/sam@example.com'))).body).toEqual(expected), { timeoutMs: 10000 });
    await eventually(
      async () => expect((await http('GET', api(1, '/idcert/actor/sam@example.com'))).body.map((c: { idCertPem: string }) => c.idCertPem)).toEqual(expected.idcerts),
      { timeoutMs: 10000 },
    );

    // deleted through gateway 1: its next read knows, gateway 0 soon after
    const other = await openSession(1, 'sam', 'laptop');
    for (const gateway of [0, 1]) await warm(gateway, '/key/actor/sam@example.com');
    const deleted = await http('DELETE', `${api(1, '/session')}?session_id=laptop`, { headers: sensitive(rotated.body.token) });
    expect(deleted.status).toBe(204);
    const afterDelete = { idcerts: [phone.certPem, rotated.body.id_cert, other.certPem], invalidated: [true, false, true] };
    expect((await http('GET', api(1, '/key/actor/sam@example.com'))).body).toEqual(afterDelete);
    await eventually(async () => expect((await http('GET', api(0, '/key/actor/sam@example.com'))).body).toEqual(afterDelete), { timeoutMs: 10000 });
  });

  it('forgets what an event changed even when the live events fail to handle it (the listeners share one consumer)', async () => {
    const key = actorKey('key', 'uma@example.com');
    const forgotten = jest.spyOn(readCache(1), 'forgetActor');
    const session = jest.spyOn(cluster.gatewayApp(1).get(ConnectionRegistry), 'session');
    try {
      expect((await http('POST', api(0, '/register'), { json: { actor_name: 'uma', auth_payload: { password } } })).status).toBe(201);
      const desk = await openSession(0, 'uma', 'desk');
      // gateway 1 has seen the registration and both events of the desk session (nothing else
      // forgets uma there): from now on only the phone's events can drop its cached answer
      await eventually(() => forgotten.mock.calls.filter(([fid]) => fid === 'uma@example.com').length, { until: (n) => n === 3, timeoutMs: 10000, what: 'invalidations' });
      await warm(1, '/key/actor/uma@example.com');
      expect(readCache(1).lookup(key)).toBeDefined();
      session.mockImplementation(() => {
        throw new Error('live events broken by the test');
      });
      const phone = await openSession(0, 'uma', 'phone');
      await eventually(() => expect(readCache(1).lookup(key)).toBeUndefined(), { timeoutMs: 10000 });
      expect(session).toHaveBeenCalledWith('uma@example.com', 'phone');
      expect((await http('GET', api(1, '/key/actor/uma@example.com'))).body.idcerts).toEqual([desk.certPem, phone.certPem]);
    } finally {
      forgotten.mockRestore();
      session.mockRestore();
    }
  });

  it('refuses a revoked token at once on the gateway that revoked it, and soon after on the other', async () => {
    const session = await openSession(0, 'tess', 'tablet');
    for (const gateway of [0, 1]) {
      // a lookup fills the cache unless an invalidation raced it (a session event arriving meanwhile,
      // such as this session's own on its way to the other gateway), so the reads go on until one did
      await eventually(
        async () => {
          expect([200, 204]).toContain((await http('GET', api(gateway, '/events'), { headers: bearer(session.token) })).status);
          expect(tokenCache(gateway).lookup(hashToken(session.token), new Date())).toBeDefined();
        },
        { timeoutMs: 10000 },
      );
    }
    expect((await http('PUT', api(0, '/session/revoke'), { headers: bearer(session.token) })).status).toBe(204);
    expectErrorBody(await http('GET', api(0, '/events'), { headers: bearer(session.token) }), 401, 'P2CORE_UNAUTHORIZED');
    await eventually(async () => expectErrorBody(await http('GET', api(1, '/events'), { headers: bearer(session.token) }), 401, 'P2CORE_UNAUTHORIZED'), {
      timeoutMs: 10000,
    });
  });

  it('looks up the tokens of concurrent requests together, each as its own session, with the token cache cold', async () => {
    const sessions = await Promise.all(['rita', 'sam', 'tess'].flatMap((name) => ['one', 'two'].map(async (sessionId) => ({ name, sessionId, ...(await openSession(1, name, `batch-${sessionId}`)) }))));
    const revoked = await openSession(1, 'sam', 'batch-revoked');
    expect((await http('PUT', api(1, '/session/revoke'), { headers: bearer(revoked.token) })).status).toBe(204);
    const unknown = 'not a token of this server';
    const lookup = cluster.gatewayApp(0).get(SessionLookup);
    tokenCache(0).forgetAll();
    const statements = jest.spyOn(cluster.gatewayApp(0).get(ReadDatabase).prepared, 'query');
    // asked in one turn of the event loop: one statement for all of them
    const found = await Promise.all([...sessions.map((s) => s.token), revoked.token, unknown].map((token) => lookup.byTokenHash(hashToken(token), { fresh: true })));
    expect(statements).toHaveBeenCalledTimes(1);
    statements.mockRestore();
    expect(found.map((session) => session && `${session.federationId} ${session.sessionId}`)).toEqual([
      ...sessions.map((s) => `${s.name}@example.com batch-${s.sessionId}`),
      undefined,
      undefined,
    ]);
    // and through HTTP, requests in flight together: the unknown and the revoked token are refused, no other
    tokenCache(0).forgetAll();
    const answers = await Promise.all([...sessions.map((s) => s.token), revoked.token, unknown].map((token) => http('GET', api(0, '/session/keymaterial'), { headers: bearer(token) })));
    expect(answers.map((res) => res.status)).toEqual([...sessions.map(() => 200), 401, 401]);
    expectErrorBody(answers[answers.length - 1]!, 401, 'P2CORE_UNAUTHORIZED');
  });

  it('answers a server key rotation at once through the writing gateway, and through the other one soon after', async () => {
    const admin = await openSession(1, 'root', 'console');
    const before: Record<string, string> = {};
    for (const gateway of [0, 1]) {
      before[`key${gateway}`] = (await warm(gateway, '/key/server')).text;
      before[`idcert${gateway}`] = (await warm(gateway, '/idcert/server')).body.idCertPem;
      await warm(gateway, '/idcert/actor/rita@example.com');
    }
    const rotated = await http('PUT', api(1, '/key/server'), { headers: sensitive(admin.token) });
    expect(rotated.status).toBe(200);
    const newRoot = rotated.body as string;
    const newKey = (await http('GET', api(1, '/key/server'))).text;
    expect(newKey).not.toBe(before.key1);
    expect((await http('GET', api(1, '/idcert/server'))).body.idCertPem).toBe(newRoot);
    await eventually(async () => expect((await http('GET', api(0, '/key/server'))).text).toBe(newKey), { timeoutMs: 10000 });
    await eventually(async () => expect((await http('GET', api(0, '/idcert/server'))).body.idCertPem).toBe(newRoot), { timeoutMs: 10000 });
    // the actor answers' cache windows were re-signed with the new key: not served from before
    expect(readCache(0).lookup(actorKey('idcert', 'rita@example.com'))).toBeUndefined();
  });
});

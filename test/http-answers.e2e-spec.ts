import * as x509 from '@peculiar/x509';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http } from './support/http';
import { opensslCsr } from './support/openssl';
import { rawHttp } from './support/raw-http';

/** The head of a request written as it is (rawHttp): for requests Node's HTTP client refuses to
 * send, or that the server must answer before a request exists. */
const request = (method: string, path: string, headers: Record<string, string> = {}) =>
  `${method} ${path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;

/** The answers the 2024 text fixes exactly, and the error body on every error the framework raises
 * before a route runs (docs/protocol.md#framework-errors). */
describe('answers exactly as the protocol says', () => {
  let cluster: TestCluster;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'answers' });
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  describe('framework errors have the error body', () => {
    it('a path that is not valid percent-encoded UTF-8 → 400 P2CORE_MALFORMED_REQUEST', async () => {
      expectErrorBody(await http('GET', api('/key/actor/%00%ff@x')), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await rawHttp(cluster.url, request('GET', '/.p2/core/v1/idcert/actor/%E0%A4%A@x')), 400, 'P2CORE_MALFORMED_REQUEST');
    });

    it('a body over the gateway limit → 413 P2CORE_PAYLOAD_TOO_LARGE', async () => {
      const body = JSON.stringify({ actor_name: 'x'.repeat(300 * 1024), auth_payload: { password } });
      expectErrorBody(await http('POST', api('/register'), { body, headers: { 'content-type': 'application/json' } }), 413, 'P2CORE_PAYLOAD_TOO_LARGE');
    });

    it('a body that is not valid UTF-8 → 400 P2CORE_MALFORMED_REQUEST, and nothing is registered', async () => {
      // a password with a stray byte would otherwise be stored as U+FFFD, a password nobody can type
      const body = Buffer.concat([Buffer.from(`{"actor_name": "utf", "auth_payload": {"password": "${password}`), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]);
      const res = await rawHttp(cluster.url, request('POST', '/.p2/core/v1/register', { 'Content-Type': 'application/json', 'Content-Length': String(body.length) }), body);
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(res.body.message).toMatch(/UTF-8/);
      expectErrorBody(await http('GET', api('/key/actor/utf@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
    });

    it('a body nested deeper than any route reads → 400 P2CORE_MALFORMED_REQUEST, on open and authenticated routes alike', async () => {
      // a few tens of kB of brackets in a field no route reads: the validation pipe recursed into it
      // until the stack ran out, and the RangeError was answered 500
      const deep = `${'['.repeat(20000)}${']'.repeat(20000)}`;
      const register = await http('POST', api('/register'), { body: `{"actor_name":"deep","auth_payload":{"password":"${password}"},"x":${deep}}` });
      expectErrorBody(register, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(register.body.message).toMatch(/deeper than 64/);
      expectErrorBody(await http('GET', api('/key/actor/deep@example.com'), { body: `{"timestamp":1,"x":${deep}}` }), 400, 'P2CORE_MALFORMED_REQUEST');
      // the bearer guard runs after the body is read: refused before the token is looked at
      expectErrorBody(await http('POST', api('/keypackage/@me'), { body: `[{"x":${deep}}]`, headers: { authorization: 'Bearer nobody' } }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', api('/key/actor/deep@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
    });

    it('an unknown route → 404 P2CORE_NOT_FOUND', async () => {
      expectErrorBody(await http('GET', api('/no/such/route')), 404, 'P2CORE_NOT_FOUND');
      expectErrorBody(await http('POST', `${cluster.url}/nowhere`), 404, 'P2CORE_NOT_FOUND');
    });

    it('a known route with another method → 405 P2CORE_METHOD_NOT_ALLOWED with Allow', async () => {
      const register = await http('DELETE', api('/register'));
      expectErrorBody(register, 405, 'P2CORE_METHOD_NOT_ALLOWED');
      expect(register.headers.get('allow')).toBe('POST');
      const key = await http('POST', api('/key/actor/alice@example.com'), { json: {} });
      expectErrorBody(key, 405, 'P2CORE_METHOD_NOT_ALLOWED');
      expect(key.headers.get('allow')).toBe('GET, HEAD');
      const keyMaterial = await http('PATCH', api('/session/keymaterial/'));
      expectErrorBody(keyMaterial, 405, 'P2CORE_METHOD_NOT_ALLOWED');
      expect(keyMaterial.headers.get('allow')).toBe('GET, HEAD, POST, DELETE, OPTIONS');
    });

    it('a GET route that refuses HEAD (it hands out what it answers once) → its 405s list GET without HEAD', async () => {
      // RFC 9110 §10.2.1: Allow lists the methods the resource answers, and HEAD is refused on these
      for (const [method, path, allow] of [
        ['POST', '/events', 'GET'],
        ['PATCH', '/events/', 'GET'],
        ['POST', '/challenge', 'GET'],
        ['DELETE', '/keypackage/alice@example.com', 'GET'],
        ['PUT', '/keypackage/alice%40example.com', 'GET'],
        // also POST's own path: GET /keypackage/:fid answers it too, and refuses its HEAD
        ['DELETE', '/keypackage/@me', 'GET, POST'],
      ] as const) {
        const res = await http(method, api(path), { headers: { authorization: 'Bearer nobody' } });
        expectErrorBody(res, 405, 'P2CORE_METHOD_NOT_ALLOWED');
        expect([method, path, res.headers.get('allow'), res.body.message]).toEqual([method, path, allow, `This route answers ${allow} only.`]);
      }
      // the HEAD itself, before the token is looked at
      for (const path of ['/events', '/keypackage/alice@example.com', '/challenge']) {
        const head = await http('HEAD', api(path), { headers: { authorization: 'Bearer nobody' } });
        expect([path, head.status, head.headers.get('allow')]).toEqual([path, 405, 'GET']);
      }
      // a GET route that answers HEAD still lists it
      const key = await http('DELETE', api('/idcert/actor/alice@example.com'));
      expectErrorBody(key, 405, 'P2CORE_METHOD_NOT_ALLOWED');
      expect(key.headers.get('allow')).toBe('GET, HEAD');
      expect((await http('HEAD', api('/idcert/server'))).status).toBe(200);
    });

    it('an over-long request target → 414 P2CORE_URI_TOO_LONG; an over-long path parameter too', async () => {
      expectErrorBody(await http('GET', `${api('/key/server')}?timestamp=1&pad=${'a'.repeat(9000)}`), 414, 'P2CORE_URI_TOO_LONG');
      expectErrorBody(await http('GET', api(`/key/actor/${'a'.repeat(600)}@example.com`)), 414, 'P2CORE_URI_TOO_LONG');
      // a federation ID of the greatest length is no 414
      const longest = `${'a'.repeat(64)}@${Array.from({ length: 4 }, () => 'b'.repeat(62)).join('.')}`;
      expectErrorBody(await http('GET', api(`/key/actor/${longest}`)), 404, 'P2CORE_ACTOR_NOT_FOUND');
    });

    it('headers larger than the HTTP parser reads → 431 P2CORE_HEADERS_TOO_LARGE (answered by the clientError handler)', async () => {
      const res = await rawHttp(cluster.url, request('GET', '/.p2/core/v1/key/server', { 'X-Padding': 'a'.repeat(20 * 1024) }));
      expectErrorBody(res, 431, 'P2CORE_HEADERS_TOO_LARGE');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    });

    it('a request that is not HTTP at all, or has an invalid Content-Length → 400 P2CORE_MALFORMED_REQUEST (answered by the clientError handler)', async () => {
      for (const head of ['HELLO THERE\r\n\r\n', request('POST', '/.p2/core/v1/register', { 'Content-Type': 'application/json', 'Content-Length': 'abc' })]) {
        const res = await rawHttp(cluster.url, head);
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect([head, res.body.message, res.headers.get('content-type')]).toEqual([head, 'The request is not valid HTTP/1.1.', expect.stringMatching(/^application\/json/)]);
      }
    });
  });

  describe('times beyond what a date holds are a 400, not a 500', () => {
    const MAX = 8_640_000_000_000; // seconds: the last instant a JavaScript date holds
    const routes = ['/key/server', '/idcert/server', '/key/actor/tim@example.com', '/idcert/actor/tim@example.com'];

    beforeAll(async () => {
      expect((await http('POST', api('/register'), { json: { actor_name: 'tim', auth_payload: { password } } })).status).toBe(201);
    });

    it.each(routes)('GET %s?timestamp= beyond a date → 400 naming the field; at the very last second the answer for a time no cert covers', async (route) => {
      for (const timestamp of [String(MAX + 1), '9999999999999999', '99999999999999999999']) {
        const res = await http('GET', `${api(route)}?timestamp=${timestamp}`);
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect(res.body.message).toContain('timestamp');
      }
      expectErrorBody(await http('GET', api(route), { json: { timestamp: MAX + 1 } }), 400, 'P2CORE_MALFORMED_REQUEST');
      const last = await http('GET', `${api(route)}?timestamp=${MAX}`);
      if (route.endsWith('/server')) {
        // the root is not valid in the year 275760
        expectErrorBody(last, 404, 'P2CORE_NO_CERT_AT_TIME');
      } else {
        // tim has no certificate at any time; an actor's lists are empty, not an error
        const empty = route.startsWith('/key/') ? { idcerts: [], invalidated: [] } : [];
        expect({ status: last.status, body: last.body }).toEqual({ status: 200, body: empty });
      }
    });

    it.each(['notBefore', 'notAfter'])('GET /idcert/actor/:fid?%s= beyond a date → 400 naming the field', async (field) => {
      const res = await http('GET', `${api('/idcert/actor/tim@example.com')}?${field}=${MAX + 1}`);
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(res.body.message).toContain(field);
      expectErrorBody(await http('GET', api('/idcert/actor/tim@example.com'), { json: { [field]: String(MAX + 1) } }), 400, 'P2CORE_MALFORMED_REQUEST');
      expect((await http('GET', `${api('/idcert/actor/tim@example.com')}?${field}=${MAX}`)).status).toBe(200);
    });
  });

  describe('requests are checked by their DTO classes; a failure names the field', () => {
    const failure = async (method: string, path: string, field: string, options: Parameters<typeof http>[2] = {}, code = 'P2CORE_MALFORMED_REQUEST') => {
      const res = await http(method, api(path), options);
      expectErrorBody(res, 400, code);
      expect(res.body.message).toContain(`"${field}"`);
    };

    it('server and actor cert reads: timestamp, notBefore, notAfter, session_id, fid', async () => {
      await failure('GET', '/key/server?timestamp=soon', 'timestamp');
      await failure('GET', '/idcert/server', 'timestamp', { json: { timestamp: -1 } });
      await failure('GET', '/key/actor/tim@example.com?timestamp=1.5', 'timestamp');
      await failure('GET', '/idcert/actor/tim@example.com?notBefore=x', 'notBefore');
      await failure('GET', '/idcert/actor/tim@example.com', 'notAfter', { json: { notAfter: [1] } });
      await failure('GET', `/key/actor/tim@example.com?session_id=${'s'.repeat(33)}`, 'session_id');
      await failure('GET', '/key/actor/no-domain', 'fid');
      await failure('GET', '/challenge?fid=no-domain', 'fid');
      await failure('GET', '/challenge', 'session_id', { json: { session_id: 's'.repeat(33) } });
      // the lenient forms still pass: integers as strings, JSON bodies on GET, the query winning
      expect((await http('GET', `${api('/key/server')}?timestamp=${Math.floor(Date.now() / 1000)}`, { json: { timestamp: 'x' } })).status).toBe(200);
      expect((await http('GET', api('/idcert/actor/TIM@example.com'), { body: JSON.stringify({ timestamp: String(Math.floor(Date.now() / 1000)) }) })).status).toBe(200);
    });


    it('registration and sign-in: actor_name, auth_payload.password, csr; a body that is no object', async () => {
      await failure('POST', '/register', 'actor_name', { json: { actor_name: 'a b', auth_payload: { password } } }, 'P2CORE_INVALID_ACTOR_NAME');
      await failure('POST', '/register', 'actor_name', { json: { auth_payload: { password } } }, 'P2CORE_INVALID_ACTOR_NAME');
      await failure('POST', '/register', 'auth_payload.password', { json: { actor_name: 'short', auth_payload: { password: 'short' } } });
      await failure('POST', '/register', 'auth_payload', { json: { actor_name: 'short', auth_payload: 'x' } });
      // a value of the wrong type is refused for its type, not for what the checks after it say
      for (const wrong of [0, 12345678901, true, ['a long enough password']]) {
        const res = await http('POST', api('/register'), { json: { actor_name: 'typed', auth_payload: { password: wrong } } });
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect({ wrong, message: res.body.message }).toEqual({ wrong, message: 'The field "auth_payload.password" must be a string.' });
      }
      await failure('POST', '/session/trust', 'csr', { json: { actor_name: 'tim', auth_payload: { password } } });
      await failure('POST', '/session/trust', 'auth_payload.password', { body: JSON.stringify({ actor_name: 'tim', csr: 'x', auth_payload: {} }) });
      const array = await http('POST', api('/register'), { json: [{ actor_name: 'arr', auth_payload: { password } }] });
      expectErrorBody(array, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(array.body.message).toMatch(/JSON object/);
      expectErrorBody(await http('POST', api('/register'), { body: 'actor_name=plain' }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', api('/key/actor/short@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
      // names are stored lowercased, from a JSON body without a content type
      const upper = await http('POST', api('/register'), { body: JSON.stringify({ actor_name: 'UPPER', auth_payload: { password } }) });
      expect({ status: upper.status, body: upper.body }).toEqual({ status: 201, body: { fid: 'upper@example.com' } });
    });
  });

  describe('path parameters are decoded exactly once', () => {
    const certs: Record<string, string> = {};

    beforeAll(async () => {
      for (const name of ['rvp%410f4xp', 'rvpa0f4xp']) {
        expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
        const csr = opensslCsr({ localName: name, domain: 'example.com', sessionId: 'one' });
        const trust = await http('POST', api('/session/trust'), { json: { actor_name: name, csr: csr.csrPem, auth_payload: { password } } });
        expect(trust.status).toBe(201);
        certs[name] = trust.body.id_cert;
      }
      expect(new x509.X509Certificate(certs['rvp%410f4xp']!).subject).toContain('rvp%410f4xp@example.com');
    });

    it('GET /key/actor/rvp%25410f4xp@… finds the actor whose name holds "%", never rvpa0f4xp', async () => {
      const res = await http('GET', api('/key/actor/rvp%25410f4xp@example.com'));
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { idcerts: [certs['rvp%410f4xp']], invalidated: [false] } });
      const idcert = await http('GET', api('/idcert/actor/rvp%25410f4xp%40example.com'));
      expect(idcert.status).toBe(200);
      expect(idcert.body.map((c: { idCertPem: string }) => c.idCertPem)).toEqual([certs['rvp%410f4xp']]);
    });

    it('%41 is the letter A, decoded once: rvp%410f4xp in the path is rvpa0f4xp (names are case-insensitive)', async () => {
      const res = await http('GET', api('/key/actor/rvp%410f4xp@example.com'));
      expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { idcerts: [certs['rvpa0f4xp']], invalidated: [false] } });
      // decoded twice, %2541 would become A as well: it is the name "rvp%41…", which does not exist
      expectErrorBody(await http('GET', api('/key/actor/rvp%2541%2530f4xp@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
    });
  });
});

import { X509Certificate } from 'node:crypto';
import { Client } from 'pg';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, bearer } from './support/http';
import { opensslCsr } from './support/openssl';
import { rebuildFromLog } from './support/projections';

/** Encrypted private key material (docs/protocol.md#key-material), end to end:
 * HTTP → gateway → Kafka → certstore → PostgreSQL → read model. */
describe('key material: /session/keymaterial', () => {
  const MAX_BYTES = 600;
  const MAX_ITEMS = 4;
  const password = 'correct horse battery staple';
  const PBES2 = '1.2.840.113549.1.5.13';
  const AES_256_GCM = '2.16.840.1.101.3.4.1.46';
  const derBytes = (hex: string) => [...Buffer.from(hex, 'hex')];
  const PBES2_DER = derBytes('300d06092a864886f70d01050d0500');
  const AES_256_GCM_DER = derBytes('300b060960864801650304012e');
  /** Serial numbers of no cert of this server (ours are below 2^64). */
  const UNKNOWN = '18446744073709551629';

  let cluster: TestCluster;
  let db: Client;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  const pem = (tag: string) => `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${Buffer.from(`key material ${tag}`).toString('base64')}\n-----END ENCRYPTED PRIVATE KEY-----\n`;
  /** big-endian bytes without leading zeros, as polyproto-rs serialises a serial */
  const bytesOf = (serial: string) => {
    const hex = BigInt(serial).toString(16);
    return [...Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')];
  };

  /** kim's serials s[0..5] (one session each), lee's one serial. */
  const s: string[] = [];
  let kim: string;
  let lee: { token: string; serial: string };

  async function register(name: string): Promise<void> {
    expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
  }

  async function openSession(name: string, sessionId: string): Promise<{ token: string; serial: string }> {
    const csr = opensslCsr({ localName: name, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: name, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return { token: res.body.token, serial: BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString() };
  }

  const post = (json: unknown, token = kim) => http('POST', api('/session/keymaterial'), { json, headers: bearer(token) });
  const getSerials = async (query = '') => {
    const res = await http('GET', `${api('/session/keymaterial')}${query}`, { headers: bearer(kim) });
    expect(res.status).toBe(200);
    return (res.body as { serial_number: string }[]).map((item) => item.serial_number);
  };
  const sorted = (serials: string[]) => [...serials].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));

  beforeAll(async () => {
    cluster = await TestCluster.start({
      label: 'keymaterial',
      gateways: 1,
      certstores: 1,
      env: { P2_KEYMATERIAL_MAX_BYTES: String(MAX_BYTES), P2_KEYMATERIAL_MAX_ITEMS: String(MAX_ITEMS) },
    });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    await register('kim');
    await register('lee');
    for (const sessionId of ['a', 'b', 'c', 'd', 'e', 'f']) {
      const session = await openSession('kim', sessionId);
      kim ??= session.token;
      s.push(session.serial);
    }
    lee = await openSession('lee', 'phone');
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  it('refuses POST, GET and DELETE without a valid token (401)', async () => {
    expectErrorBody(await http('POST', api('/session/keymaterial'), { json: { key_data: pem('x'), serial_number: s[0] } }), 401, 'P2CORE_UNAUTHORIZED');
    expectErrorBody(await http('GET', api('/session/keymaterial')), 401, 'P2CORE_UNAUTHORIZED');
    expectErrorBody(await http('GET', api('/session/keymaterial'), { headers: bearer('A'.repeat(43)) }), 401, 'P2CORE_UNAUTHORIZED');
    expectErrorBody(await http('DELETE', `${api('/session/keymaterial')}?serials=${s[0]}`, { headers: { 'x-p2-sensitive-solution': password } }), 401, 'P2CORE_UNAUTHORIZED');
  });

  describe('size limit', () => {
    it.each([
      ['OPTIONS', '/session/keymaterial'],
      ['OPTIONS', '/session/keymaterial/'],
      ['GET', '/session/keymaterial/size'],
      ['GET', '/session/keymaterial/size/'],
    ])('%s %s: header X-Max-Payload-Size and a JSON number body, no auth, no CORS headers without Origin', async (method, path) => {
      const res = await http(method, api(path));
      expect(res.status).toBe(200);
      expect(res.headers.get('x-max-payload-size')).toBe(String(MAX_BYTES));
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.text).toBe(String(MAX_BYTES));
      expect(res.body).toBe(MAX_BYTES);
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
    });

    it('answers a CORS preflight on the same path with the size and the CORS headers', async () => {
      const res = await http('OPTIONS', api('/session/keymaterial'), {
        headers: { origin: 'https://client.example', 'access-control-request-method': 'DELETE', 'access-control-request-headers': 'authorization, x-p2-sensitive-solution' },
      });
      expect(res.status).toBe(200);
      expect(res.body).toBe(MAX_BYTES);
      expect(res.headers.get('x-max-payload-size')).toBe(String(MAX_BYTES));
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('access-control-allow-methods')).toContain('DELETE');
      expect(res.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('x-p2-sensitive-solution');
      expect(res.headers.get('access-control-expose-headers')).toBe('X-Max-Payload-Size');
      const plain = await http('GET', api('/session/keymaterial/size'), { headers: { origin: 'https://client.example' } });
      expect(plain.headers.get('access-control-expose-headers')).toBe('X-Max-Payload-Size');
      expect(plain.headers.get('access-control-allow-methods')).toBeNull();
    });
  });

  describe('upload in every request shape, and reads', () => {
    it('stores the 2024 shape: one object, serial_number as a string → 201 without a body', async () => {
      const res = await post({ key_data: pem('0'), serial_number: s[0] });
      expect(res.status).toBe(201);
      expect(res.text).toBe('');
    });

    it('stores the beta.3 shape: array, serialNumber as a number (exact beyond 2^53), encryptionAlgorithms as OIDs', async () => {
      const body = `[{"key_data":${JSON.stringify(pem('1'))},"serialNumber":${s[1]},"encryptionAlgorithms":${JSON.stringify([PBES2, AES_256_GCM])}}]`;
      const res = await http('POST', api('/session/keymaterial'), { body, headers: { ...bearer(kim), 'content-type': 'application/json' } });
      expect(res.status).toBe(201);
    });

    it('stores the polyproto-rs shape: byte arrays, sent without Content-Type, trailing slash', async () => {
      const body = JSON.stringify([{ serial_number: bytesOf(s[2]!), key_data: pem('2'), encryption_algorithm: AES_256_GCM_DER }]);
      const res = await http('POST', api('/session/keymaterial/'), { body, headers: bearer(kim) });
      expect(res.status).toBe(201);
    });

    it('GET without serials: every item of the actor, 2024 shape ordered by serial, encryption_algorithms when known', async () => {
      const res = await http('GET', api('/session/keymaterial'), { headers: bearer(kim) });
      expect(res.status).toBe(200);
      const expected: Record<string, unknown> = {
        [s[0]!]: { key_data: pem('0'), serial_number: s[0] },
        [s[1]!]: { key_data: pem('1'), serial_number: s[1], encryption_algorithms: [PBES2, AES_256_GCM] },
        [s[2]!]: { key_data: pem('2'), serial_number: s[2], encryption_algorithms: [AES_256_GCM] },
      };
      expect(res.body).toEqual(sorted([s[0]!, s[1]!, s[2]!]).map((serial) => expected[serial]));
    });

    it('GET by {serial_numbers} body, by a bare array of numbers (polyproto-rs), by ?serials= (which wins over the body)', async () => {
      const byBody = await http('GET', api('/session/keymaterial'), { json: { serial_numbers: [s[0]] }, headers: bearer(kim) });
      expect(byBody.status).toBe(200);
      expect(byBody.body).toEqual([{ key_data: pem('0'), serial_number: s[0] }]);
      const byBareArray = await http('GET', api('/session/keymaterial/'), { body: `[${s[1]}, ${s[2]}]`, headers: bearer(kim) });
      expect(byBareArray.status).toBe(200);
      expect(byBareArray.body.map((i: { serial_number: string }) => i.serial_number)).toEqual(sorted([s[1]!, s[2]!]));
      expect(await getSerials(`?serials=${s[0]},${s[2]}`)).toEqual(sorted([s[0]!, s[2]!]));
      const queryWins = await http('GET', `${api('/session/keymaterial')}?serials=${s[0]}`, { json: [s[1]], headers: bearer(kim) });
      expect(queryWins.body.map((i: { serial_number: string }) => i.serial_number)).toEqual([s[0]]);
    });

    it('GET naming any serial without key material → 404 whose body is the JSON array of the missing serials', async () => {
      const res = await http('GET', `${api('/session/keymaterial')}?serials=${s[0]},${UNKNOWN},${s[3]}`, { headers: bearer(kim) });
      expect({ status: res.status, body: res.body }).toEqual({ status: 404, body: [UNKNOWN, s[3]] });
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const byBody = await http('GET', api('/session/keymaterial'), { json: { serial_numbers: [s[3], s[1]] }, headers: bearer(kim) });
      expect({ status: byBody.status, body: byBody.body }).toEqual({ status: 404, body: [s[3]] });
    });

    it("another actor sees none of it: 200 [] when it has nothing, 404 for kim's serial", async () => {
      const all = await http('GET', api('/session/keymaterial'), { headers: bearer(lee.token) });
      expect({ status: all.status, body: all.body }).toEqual({ status: 200, body: [] });
      const res = await http('GET', `${api('/session/keymaterial')}?serials=${s[0]}`, { headers: bearer(lee.token) });
      expect({ status: res.status, body: res.body }).toEqual({ status: 404, body: [s[0]] });
    });
  });

  describe('refusals, each storing nothing of the request', () => {
    it('409 P2CORE_KEY_MATERIAL_EXISTS for a serial already stored, or twice in one request', async () => {
      expectErrorBody(await post({ key_data: pem('again'), serial_number: s[0] }), 409, 'P2CORE_KEY_MATERIAL_EXISTS');
      expectErrorBody(await post([{ key_data: pem('3'), serial_number: s[3] }, { key_data: pem('again'), serial_number: s[0] }]), 409, 'P2CORE_KEY_MATERIAL_EXISTS');
      const stringAndNumber = `[{"key_data":${JSON.stringify(pem('3'))},"serial_number":"${s[3]}"},{"key_data":${JSON.stringify(pem('3b'))},"serial_number":${s[3]}}]`;
      expectErrorBody(await http('POST', api('/session/keymaterial'), { body: stringAndNumber, headers: bearer(kim) }), 409, 'P2CORE_KEY_MATERIAL_EXISTS');
      expect(await getSerials()).not.toContain(s[3]);
    });

    it("404 P2CORE_UNKNOWN_SERIAL for a serial that is no cert of this actor, including another actor's cert", async () => {
      expectErrorBody(await post({ key_data: pem('u'), serial_number: UNKNOWN }), 404, 'P2CORE_UNKNOWN_SERIAL');
      expectErrorBody(await post({ key_data: pem('lee'), serial_number: lee.serial }), 404, 'P2CORE_UNKNOWN_SERIAL');
      expectErrorBody(await post([{ key_data: pem('3'), serial_number: s[3] }, { key_data: pem('lee'), serial_number: lee.serial }]), 404, 'P2CORE_UNKNOWN_SERIAL');
      expect(await getSerials()).not.toContain(s[3]);
      // and lee cannot store under kim's serial either
      expectErrorBody(await post({ key_data: pem('x'), serial_number: s[3] }, lee.token), 404, 'P2CORE_UNKNOWN_SERIAL');
    });

    it('413 P2CORE_PAYLOAD_TOO_LARGE when one key_data is over the limit in UTF-8 bytes (not characters)', async () => {
      const tooLarge = 'é'.repeat(MAX_BYTES / 2 + 1); // 301 characters, 602 bytes
      // the answer names the field by its path in the request, as a 400 does (docs/protocol.md#error-body)
      const one = await post({ key_data: tooLarge, serial_number: s[3] });
      expectErrorBody(one, 413, 'P2CORE_PAYLOAD_TOO_LARGE');
      expect(one.body.message).toMatch(/^The field "key_data" \(also sent as "keyData"\) is 602 bytes/);
      const list = await post([{ key_data: pem('3'), serial_number: s[3] }, { key_data: tooLarge, serial_number: s[4] }]);
      expectErrorBody(list, 413, 'P2CORE_PAYLOAD_TOO_LARGE');
      expect(list.body.message).toMatch(/^The field "\[1\]\.key_data" \(also sent as "keyData"\) is 602 bytes/);
      // a beta.3 client sent keyData: the answer names that too
      const beta3 = await post([{ keyData: tooLarge, serialNumber: s[3] }]);
      expectErrorBody(beta3, 413, 'P2CORE_PAYLOAD_TOO_LARGE');
      expect(beta3.body.message).toMatch(/^The field "\[0\]\.key_data" \(also sent as "keyData"\) is 602 bytes/);
      // every element's size is checked at the gateway before the certstore looks at any serial
      const sizeFirst = await post([{ key_data: pem('u'), serial_number: UNKNOWN }, { key_data: tooLarge, serial_number: s[4] }]);
      expectErrorBody(sizeFirst, 413, 'P2CORE_PAYLOAD_TOO_LARGE');
      expect(sizeFirst.body.message).toContain('"[1].key_data"');
      expect(await getSerials()).toEqual(sorted([s[0]!, s[1]!, s[2]!]));
    });

    it('413 from the certstore too, when a gateway is configured with a larger limit than the certstore', async () => {
      const lenientGateway = await cluster.addGateway({ P2_KEYMATERIAL_MAX_BYTES: String(MAX_BYTES * 2) });
      const res = await http('POST', `${lenientGateway}/.p2/core/v1/session/keymaterial`, { json: { key_data: 'x'.repeat(MAX_BYTES + 1), serial_number: s[3] }, headers: bearer(kim) });
      expectErrorBody(res, 413, 'P2CORE_PAYLOAD_TOO_LARGE');
      expect(await getSerials()).not.toContain(s[3]);
    });

    it.each([
      ['an empty array', []],
      ['an element without serial', { key_data: 'PEM' }],
      ['a serial that is not a number', { key_data: 'PEM', serial_number: 'abc' }],
      ['serial 0', { key_data: 'PEM', serial_number: '0' }],
      ['a serial byte out of range', { key_data: 'PEM', serial_number: [1, 256] }],
      ['a serial of more than 20 octets', { key_data: 'PEM', serial_number: '1'.padEnd(50, '0') }],
      ['no key_data', { serial_number: '5' }],
      ['an empty key_data', { serial_number: '5', key_data: '  ' }],
      ['an element that is not an object', ['PEM']],
      ['an OID that is not dotted decimal', { key_data: 'PEM', serial_number: '5', encryptionAlgorithms: ['aes'] }],
      ['a malformed DER AlgorithmIdentifier', { key_data: 'PEM', serial_number: '5', encryption_algorithm: [48, 3, 2, 1, 1] }],
      ['algorithms of the wrong type', { key_data: 'PEM', serial_number: '5', encryption_algorithms: { oid: PBES2 } }],
    ])('400 P2CORE_MALFORMED_REQUEST for %s', async (_, json) => {
      expectErrorBody(await post(json), 400, 'P2CORE_MALFORMED_REQUEST');
    });

    // One malformed field per request, in each request shape of docs/protocol.md#key-material-shapes:
    // the answer names the field as the client sent it.
    it.each([
      ['2024: serial_number not a number', { key_data: 'PEM', serial_number: 'abc' }, 'serial_number'],
      ['2024: key_data empty', { key_data: '  ', serial_number: '5' }, 'key_data'],
      ['2024: key_data missing', { serial_number: '5' }, 'key_data'],
      ['2024: key_data not a string', [{ key_data: 42, serial_number: '5' }], 'key_data'],
      ['beta.3: serialNumber a fraction', [{ key_data: 'PEM', serialNumber: 1.5, encryptionAlgorithms: [PBES2] }], 'serialNumber'],
      ['beta.3: serialNumber 0', [{ key_data: 'PEM', serialNumber: 0, encryptionAlgorithms: [PBES2] }], 'serialNumber'],
      ['beta.3: keyData a number', [{ keyData: 7, serialNumber: 5, encryptionAlgorithms: [PBES2] }], 'keyData'],
      ['beta.3: encryptionAlgorithms not dotted', [{ key_data: 'PEM', serialNumber: 5, encryptionAlgorithms: ['aes'] }], 'encryptionAlgorithms'],
      ['polyproto-rs: serial_number byte out of range', [{ serial_number: [1, 256], key_data: 'PEM', encryption_algorithm: AES_256_GCM_DER }], 'serial_number'],
      ['polyproto-rs: encryption_algorithm malformed DER', [{ serial_number: [5], key_data: 'PEM', encryption_algorithm: [48, 3, 2, 1, 1] }], 'encryption_algorithm'],
      ['2024-06: encryption_algorithms holding a malformed DER', [{ serial_number: '5', key_data: 'PEM', encryption_algorithms: [PBES2_DER, [48, 3, 2, 1, 1]] }], 'encryption_algorithms'],
      ['the second element: serial_number missing', [{ key_data: 'PEM', serial_number: '5' }, { key_data: 'PEM' }], 'serial_number'],
    ])('400 P2CORE_MALFORMED_REQUEST naming the field, %s', async (_, json, field) => {
      const res = await post(json);
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(res.body.message).toMatch(new RegExp(`\\b${field}\\b`));
    });

    it('a key_data that is no string is refused as no string, not as text with a NUL in it', async () => {
      for (const json of [{ key_data: 0, serial_number: '5' }, [{ keyData: 7, serialNumber: 5 }]]) {
        const res = await post(json);
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect(res.body.message).toMatch(/key_?[dD]ata.*string/);
        expect(res.body.message).not.toMatch(/NUL|surrogate/);
      }
    });

    // What PostgreSQL cannot store as sent is refused by the gateway, naming the field as the client
    // sent it, before any command: the certstore would refuse it too, naming command fields.
    it.each([
      ['a NUL in key_data', [{ key_data: 'PEM\u0000tail', serial_number: '5' }], '[0].key_data'],
      ['a lone surrogate in keyData (beta.3)', [{ keyData: 'PEM \ud800 tail', serialNumber: 5 }], '[0].key_data'],
      ['a lone low surrogate in the second element', [{ key_data: 'PEM', serial_number: '5' }, { key_data: '\udc00', serial_number: '6' }], '[1].key_data'],
      // one object, not an array: no index the client never sent
      ['a NUL in the key_data of a single-object body', { key_data: 'PEM\u0000tail', serial_number: '5' }, 'key_data'],
      [
        'an algorithm list of more than 16384 characters of JSON',
        // five DER AlgorithmIdentifiers of 1024 bytes (OID 1.2.3.4 and an OCTET STRING parameter), each valid
        [{ key_data: 'PEM', serial_number: '5', encryption_algorithms: Array.from({ length: 5 }, () => [0x30, 0x82, 0x03, 0xfc, 0x06, 0x03, 0x2a, 0x03, 0x04, 0x04, 0x82, 0x03, 0xf3, ...new Array<number>(1011).fill(255)]) }],
        '[0].encryption_algorithms',
      ],
    ])('400 naming the request field for %s, and nothing is written', async (_, json, field) => {
      const count = async () => (await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = 'keymaterial-kim@example.com'`)).rows[0].n as number;
      const before = await count();
      const res = await post(json);
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(res.body.message).toContain(`"${field}"`);
      expect(res.body.message).not.toMatch(/StoreKeyMaterial|items\.\d|rawEncryptionAlgorithms/);
      expect(await count()).toBe(before);
    });

    it('takes serials below 2^159 (20 DER octets) in every form and refuses 2^159 (docs/protocol.md#serials)', async () => {
      const largest = 2n ** 159n - 1n;
      const bytes = (serial: bigint) => [...Buffer.from(serial.toString(16).padStart(40, '0'), 'hex')];
      const forms = (serial: bigint) => [
        { key_data: 'PEM', serial_number: serial.toString() },
        `[{"key_data":"PEM","serialNumber":${serial}}]`,
        [{ key_data: 'PEM', serial_number: bytes(serial) }],
      ];
      const send = (form: unknown) => (typeof form === 'string' ? http('POST', api('/session/keymaterial'), { body: form, headers: bearer(kim) }) : post(form));
      for (const form of forms(largest)) {
        // a valid serial that is no cert of kim's: past the gateway's checks, refused by the certstore
        const res = await send(form);
        expectErrorBody(res, 404, 'P2CORE_UNKNOWN_SERIAL');
        expect(res.body.message).toContain(largest.toString());
      }
      for (const form of forms(largest + 1n)) {
        const res = await send(form);
        expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
        expect(res.body.message).toMatch(/serial_number|serialNumber/);
      }
    });

    it('a serial beyond 2^53 as a JSON number is read exactly (404 naming it when no cert has it); 400 for a non-JSON body and a malformed GET serial', async () => {
      const unsafe = await http('POST', api('/session/keymaterial'), { body: `[{"key_data":"PEM","serial_number":${UNKNOWN}}]`, headers: bearer(kim) });
      expectErrorBody(unsafe, 404, 'P2CORE_UNKNOWN_SERIAL');
      expect(unsafe.body.message).toContain(UNKNOWN);
      expectErrorBody(await http('POST', api('/session/keymaterial'), { body: 'hello', headers: bearer(kim) }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('GET', `${api('/session/keymaterial')}?serials=1,x`, { headers: bearer(kim) }), 400, 'P2CORE_MALFORMED_REQUEST');
    });
  });

  describe('upload slots (P2_KEYMATERIAL_MAX_ITEMS) and deletion', () => {
    it('accepts a key_data of exactly the limit, stores the 2024-06 array-of-DER shape, then refuses more than the cap (409 slots full)', async () => {
      const atLimit = 'é'.repeat(MAX_BYTES / 2); // 600 bytes
      expect((await post([{ key_data: atLimit, serial_number: s[3], encryption_algorithms: [PBES2_DER, AES_256_GCM_DER] }])).status).toBe(201);
      const stored = await http('GET', `${api('/session/keymaterial')}?serials=${s[3]}`, { headers: bearer(kim) });
      expect(stored.body).toEqual([{ key_data: atLimit, serial_number: s[3], encryption_algorithms: [PBES2, AES_256_GCM] }]);
      expectErrorBody(await post({ key_data: pem('4'), serial_number: s[4] }), 409, 'P2CORE_KEY_MATERIAL_SLOTS_FULL');
      expect(await getSerials()).toHaveLength(MAX_ITEMS);
    });

    it('DELETE is sensitive: 401 without the solution header, 403 with a wrong one', async () => {
      expectErrorBody(await http('DELETE', `${api('/session/keymaterial')}?serials=${s[0]}`, { headers: bearer(kim) }), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
      expectErrorBody(
        await http('DELETE', `${api('/session/keymaterial')}?serials=${s[0]}`, { headers: { ...bearer(kim), 'x-p2-sensitive-solution': 'wrong' } }),
        403,
        'P2CORE_SENSITIVE_SOLUTION_INVALID',
      );
      expect(await getSerials()).toContain(s[0]);
    });

    it('DELETE: 400 without serials, 404 when none of them has key material', async () => {
      const sensitive = { ...bearer(kim), 'x-p2-sensitive-solution': password };
      expectErrorBody(await http('DELETE', api('/session/keymaterial'), { headers: sensitive }), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await http('DELETE', `${api('/session/keymaterial')}?serials=${s[4]},${UNKNOWN}`, { headers: sensitive }), 404, 'P2CORE_KEY_MATERIAL_NOT_FOUND');
      expect(await getSerials()).toHaveLength(MAX_ITEMS);
    });

    it('DELETE by bare array of numbers (some unmatched), by {serial_numbers}, by ?serials= → 204; the slots are free again', async () => {
      const sensitive = { ...bearer(kim), 'x-p2-sensitive-solution': password };
      const bare = await http('DELETE', api('/session/keymaterial/'), { body: `[${s[0]},${s[5]}]`, headers: sensitive });
      expect({ status: bare.status, text: bare.text }).toEqual({ status: 204, text: '' });
      expect((await http('DELETE', api('/session/keymaterial'), { json: { serial_numbers: [s[1]] }, headers: sensitive })).status).toBe(204);
      expect((await http('DELETE', `${api('/session/keymaterial')}?serials=${s[2]}`, { json: [s[3]], headers: sensitive })).status).toBe(204);
      expect(await getSerials()).toEqual([s[3]]);
      expect((await post({ key_data: pem('4'), serial_number: s[4] })).status).toBe(201);
      expect((await post({ key_data: pem('0 again'), serial_number: s[0] })).status).toBe(201);
      expect(await getSerials()).toEqual(sorted([s[0]!, s[3]!, s[4]!]));
    });
  });

  describe('storage', () => {
    it('the key_material table and the keymaterial-<fid> stream hold exactly what was accepted', async () => {
      const rows = await db.query(
        `SELECT federation_id, serial::text AS serial, key_data, encryption_algorithms, raw_encryption_algorithms FROM key_material ORDER BY key_material.serial`,
      );
      const expected: Record<string, unknown> = {
        [s[0]!]: { federation_id: 'kim@example.com', serial: s[0], key_data: pem('0 again'), encryption_algorithms: [], raw_encryption_algorithms: null },
        [s[3]!]: {
          federation_id: 'kim@example.com',
          serial: s[3],
          key_data: 'é'.repeat(MAX_BYTES / 2),
          encryption_algorithms: [PBES2, AES_256_GCM],
          raw_encryption_algorithms: [PBES2_DER, AES_256_GCM_DER],
        },
        [s[4]!]: { federation_id: 'kim@example.com', serial: s[4], key_data: pem('4'), encryption_algorithms: [], raw_encryption_algorithms: null },
      };
      expect(rows.rows).toEqual(sorted([s[0]!, s[3]!, s[4]!]).map((serial) => expected[serial]));

      const events = await db.query(`SELECT type, data FROM events WHERE stream_id = 'keymaterial-kim@example.com' ORDER BY stream_position`);
      const summary = events.rows.map((e) => (e.type === 'KeyMaterialStored' ? `stored ${e.data.serial}` : `deleted ${e.data.serials.join(',')}`));
      expect(summary).toEqual([
        `stored ${s[0]}`,
        `stored ${s[1]}`,
        `stored ${s[2]}`,
        `stored ${s[3]}`,
        `deleted ${s[0]}`,
        `deleted ${s[1]}`,
        `deleted ${s[2]}`,
        `stored ${s[4]}`,
        `stored ${s[0]}`,
      ]);
      // the polyproto-rs upload: normalised OIDs plus the raw DER bytes as sent; key_data only sealed
      // under the item's data key (docs/architecture.md#crypto-shredding)
      expect(events.rows[2].data).toEqual({
        federationId: 'kim@example.com',
        serial: s[2],
        sealedKeyData: { keyId: expect.any(String), ciphertext: expect.stringMatching(/^d1\./) },
        encryptionAlgorithms: [AES_256_GCM],
        rawEncryptionAlgorithms: AES_256_GCM_DER,
        storedAt: expect.any(String),
      });
      expect(events.rows[1].data.rawEncryptionAlgorithms).toEqual([PBES2, AES_256_GCM]);
      expect(events.rows[0].data).not.toHaveProperty('rawEncryptionAlgorithms');
      expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = 'keymaterial-lee@example.com'`)).rows[0].n).toBe(0);
    });

    it('a rebuild from the event log gives the same key_material rows', async () => {
      const snapshot = async () => (await db.query(`SELECT * FROM key_material ORDER BY 1, 2`)).rows;
      const live = await snapshot();
      expect(live).toHaveLength(3);
      await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
      expect(await snapshot()).toEqual(live);
    });
  });

  describe('Idempotency-Key', () => {
    it('two sessions of one actor sending the same key are two commands, each storing its own item; a retry by one token stores nothing twice', async () => {
      await register('mo');
      const phone = await openSession('mo', 'phone');
      const laptop = await openSession('mo', 'laptop');
      const store = (session: { token: string; serial: string }, tag: string) =>
        http('POST', api('/session/keymaterial'), { json: { key_data: pem(tag), serial_number: session.serial }, headers: { ...bearer(session.token), 'idempotency-key': 'store-1' } });
      expect((await store(phone, 'mo-phone')).status).toBe(201);
      // the retry is answered the first outcome, not a 409 for the item it stored
      expect((await store(phone, 'mo-phone')).status).toBe(201);
      // before: answered the phone's outcome (201) and stored nothing
      expect((await store(laptop, 'mo-laptop')).status).toBe(201);
      const res = await http('GET', api('/session/keymaterial'), { headers: bearer(laptop.token) });
      expect(res.status).toBe(200);
      const expected: Record<string, unknown> = {
        [phone.serial]: { key_data: pem('mo-phone'), serial_number: phone.serial },
        [laptop.serial]: { key_data: pem('mo-laptop'), serial_number: laptop.serial },
      };
      expect(res.body).toEqual(sorted([phone.serial, laptop.serial]).map((serial) => expected[serial]));
      expect((await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = 'keymaterial-mo@example.com'`)).rows[0].n).toBe(2);
    });
  });
});

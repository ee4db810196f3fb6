import { X509Certificate } from 'node:crypto';
import { Client } from 'pg';
import { KEY_PACKAGE_LIMITS } from '@p2/contracts';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, bearer } from './support/http';
import { opensslCsr } from './support/openssl';
import { rebuildFromLog } from './support/projections';
import { freshKeyPackage } from './support/key-packages';

/** JSON text with every object's keys sorted: equal for equal JSON values whatever their key order
 * (jsonb keeps its own), an own `__proto__` key included (toEqual does not look at it). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  const object = value as Record<string, unknown>;
  return `{${Object.keys(object)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`)
    .join(',')}}`;
}

interface Wire {
  protocol_version: string;
  cipher_suite: string;
  init_key: string;
  leaf_node: string;
  extensions: unknown;
}

/** MLS KeyPackages (docs/protocol.md#key-packages), end to end with two gateways and two certstores. */
describe('KeyPackages: POST /keypackage/@me, PUT /keypackage_lr, GET /keypackage/:fid', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const api = (path: string, gateway = 0) => `${cluster.gatewayUrls[gateway]}/.p2/core/v1${path}`;

  /** A KeyPackage with a fresh random init_key (32 bytes, as X25519). */
  const pkg = (extensions: unknown = [{ extension_type: 10, extension_data: 'AQI=' }]): Wire => freshKeyPackage(extensions);

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'keypackages', gateways: 2, certstores: 2 });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    for (const name of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  async function openSession(actor: string, sessionId: string): Promise<{ token: string; serial: string }> {
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return { token: res.body.token, serial: BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString() };
  }

  async function upload(token: string, packages: unknown, gateway = 0) {
    return http('POST', api('/keypackage/@me', gateway), { json: packages, headers: bearer(token) });
  }

  async function fetchPackages(token: string, fid: string, gateway = 0) {
    return http('GET', api(`/keypackage/${fid}`, gateway), { headers: bearer(token) });
  }

  async function rowsOf(fid: string) {
    const { rows } = await db.query(
      `SELECT init_key, session_id, cert_serial::text AS serial, last_resort, claimed_at IS NOT NULL AS claimed,
              retired_at IS NOT NULL AS retired, served_count
         FROM key_packages WHERE federation_id = $1 ORDER BY added_position, added_index`,
      [fid],
    );
    return rows as { init_key: string; session_id: string; serial: string; last_resort: boolean; claimed: boolean; retired: boolean; served_count: number }[];
  }

  describe('authentication', () => {
    it('401 on every route without a valid token', async () => {
      expectErrorBody(await http('POST', api('/keypackage/@me'), { json: [pkg()] }), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('PUT', api('/keypackage_lr'), { json: pkg() }), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('GET', api('/keypackage/alice@example.com')), 401, 'P2CORE_UNAUTHORIZED');
      expectErrorBody(await http('GET', api('/keypackage/alice@example.com'), { headers: bearer('A'.repeat(43)) }), 401, 'P2CORE_UNAUTHORIZED');
    });
  });

  describe('POST /keypackage/@me', () => {
    let phone: { token: string; serial: string };
    let bob: { token: string; serial: string };

    beforeAll(async () => {
      phone = await openSession('alice', 'upload-phone');
      bob = await openSession('bob', 'bob-desk');
    });

    it('201 without a body; the packages are bound to the calling session cert, in order', async () => {
      const packages = [pkg(), pkg(), pkg()];
      const res = await upload(phone.token, packages);
      expect(res.status).toBe(201);
      expect(res.text).toBe('');
      const rows = (await rowsOf('alice@example.com')).filter((r) => r.session_id === 'upload-phone');
      expect(rows.map((r) => [r.init_key, r.serial, r.last_resort, r.claimed])).toEqual(packages.map((p) => [p.init_key, phone.serial, false, false]));
      const events = await db.query(`SELECT type, data FROM events WHERE stream_id = 'keypackages-alice@example.com' ORDER BY stream_position`);
      expect(events.rows.at(-1).type).toBe('KeyPackagesAdded');
      expect(events.rows.at(-1).data).toEqual(
        expect.objectContaining({ federationId: 'alice@example.com', sessionId: 'upload-phone', serial: phone.serial }),
      );
    });

    it('a single object counts as an array of one; the trailing slash works', async () => {
      const one = pkg();
      expect((await http('POST', `${api('/keypackage/@me')}/`, { json: one, headers: bearer(phone.token) })).status).toBe(201);
      expect((await rowsOf('alice@example.com')).some((r) => r.init_key === one.init_key)).toBe(true);
    });

    it('409 P2CORE_DUPLICATE_INIT_KEY within one request, and nothing of that request is stored', async () => {
      const twin = pkg();
      const fresh = pkg();
      expectErrorBody(await upload(phone.token, [fresh, twin, { ...pkg(), init_key: twin.init_key }]), 409, 'P2CORE_DUPLICATE_INIT_KEY');
      const stored = (await rowsOf('alice@example.com')).map((r) => r.init_key);
      expect(stored).not.toContain(fresh.init_key);
      expect(stored).not.toContain(twin.init_key);
    });

    it('409 for an init_key another actor already stored, whatever its base64 spelling', async () => {
      const mine = pkg();
      expect((await upload(phone.token, [mine])).status).toBe(201);
      expectErrorBody(await upload(bob.token, [pkg(), { ...pkg(), init_key: mine.init_key }], 1), 409, 'P2CORE_DUPLICATE_INIT_KEY');
      // the same bytes in the URL-safe alphabet without padding
      const urlSafe = Buffer.from(mine.init_key, 'base64').toString('base64url');
      expectErrorBody(await upload(bob.token, [{ ...pkg(), init_key: urlSafe }]), 409, 'P2CORE_DUPLICATE_INIT_KEY');
      // and against the same actor's own stock
      expectErrorBody(await upload(phone.token, [{ ...pkg(), init_key: mine.init_key }]), 409, 'P2CORE_DUPLICATE_INIT_KEY');
      expect(await rowsOf('bob@example.com')).toEqual([]);
    });

    it('409 when two actors upload the same init_key at the same time: exactly one wins', async () => {
      const contested = pkg();
      const results = await Promise.all([upload(phone.token, [{ ...pkg(), init_key: contested.init_key }], 0), upload(bob.token, [{ ...pkg(), init_key: contested.init_key }], 1)]);
      expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
      expectErrorBody(results.find((r) => r.status === 409)!, 409, 'P2CORE_DUPLICATE_INIT_KEY');
      const { rows } = await db.query('SELECT count(*)::int AS n FROM key_packages WHERE init_key = $1', [contested.init_key]);
      expect(rows[0].n).toBe(1);
    });

    it('409, not a unit retry or a dead letter, when the UNIQUE(init_key) backstop fires after the up-front check', async () => {
      // Another writer inserts the init_key and commits only once the certstore's insert waits on it:
      // the certstore's SELECT saw nothing, so only the constraint can refuse.
      const contested = pkg();
      const other = new Client({ connectionString: cluster.databaseUrl });
      await other.connect();
      try {
        await other.query('BEGIN');
        await other.query(
          `INSERT INTO key_packages (init_key, federation_id, session_id, cert_serial, last_resort, protocol_version, cipher_suite,
                                     leaf_node, extensions, added_position, added_index, added_at)
           VALUES ($1, 'bob@example.com', 'bob-desk', $2, false, 'mls10', '1', 'AA==', 'null', 0, 0, now())`,
          [contested.init_key, bob.serial],
        );
        const pending = upload(phone.token, [pkg(), contested]);
        await eventually(
          async () => (await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n,
          { until: (n) => n > 0, what: 'the certstore waiting on the uncommitted init_key' },
        );
        await other.query('COMMIT');
        const refused = await pending;
        expectErrorBody(refused, 409, 'P2CORE_DUPLICATE_INIT_KEY');
        // The constraint failed the certstore's insert, which went out with its COMMIT: the upload
        // was undone and run again on its own, on state that now holds the other writer's row,
        // and refused there — a refusal, not a retry of the unit or a dead letter.
        expect(refused.body.message).toBe('A KeyPackage init_key is already stored on this server; every init_key must be unique.');
      } finally {
        // the row came from no event: remove it so that the read model still equals a rebuild
        await other.query('DELETE FROM key_packages WHERE init_key = $1', [contested.init_key]);
        await other.end();
      }
      const { rows } = await db.query('SELECT count(*)::int AS n FROM processed_commands WHERE outcome @> $1::jsonb', [
        JSON.stringify({ ok: false, error: { code: 'P2CORE_DUPLICATE_INIT_KEY' } }),
      ]);
      expect(rows[0].n).toBeGreaterThan(0);
    });

    it.each([
      ['a string body', 'not json at all'],
      ['an empty array', []],
      ['an array of strings', ['a']],
    ])('400 P2CORE_MALFORMED_REQUEST for %s', async (_, body) => {
      const res =
        typeof body === 'string'
          ? await http('POST', api('/keypackage/@me'), { body, headers: bearer(phone.token) })
          : await upload(phone.token, body);
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
    });

    // one malformed field per request: the answer names it
    it.each([
      ['a missing init_key', [{ ...pkg(), init_key: undefined }], 'init_key'],
      ['a non-base64 init_key', [{ ...pkg(), init_key: 'not base64!' }], 'init_key'],
      ['an init_key over the limit', [{ ...pkg(), init_key: 'A'.repeat(KEY_PACKAGE_LIMITS.initKeyMaxChars + 4) }], 'init_key'],
      ['a missing leaf_node', [{ ...pkg(), leaf_node: undefined }], 'leaf_node'],
      ['a numeric leaf_node', [{ ...pkg(), leaf_node: 5 }], 'leaf_node'],
      ['a numeric protocol_version', [{ ...pkg(), protocol_version: 1 }], 'protocol_version'],
      ['a protocol_version with a control character', [{ ...pkg(), protocol_version: 'mls\n10' }], 'protocol_version'],
      ['a missing cipher_suite', [{ ...pkg(), cipher_suite: undefined }], 'cipher_suite'],
      ['extensions with a NUL character', [pkg({ note: 'a\u0000b' })], 'extensions'],
      ['the second package with a malformed init_key', [pkg(), { ...pkg(), init_key: '%%' }], 'init_key'],
      ['a single object with a missing leaf_node', { ...pkg(), leaf_node: undefined }, 'leaf_node'],
    ])('400 P2CORE_MALFORMED_REQUEST naming the field for %s', async (_, body, field) => {
      const res = await upload(phone.token, body);
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(res.body.message).toMatch(new RegExp(`\\b${field}\\b`));
    });

    it('413 for more than 100 KeyPackages in one request', async () => {
      const many = Array.from({ length: 101 }, () => ({ ...pkg([]), leaf_node: 'AA==' }));
      expectErrorBody(await upload(phone.token, many), 413, 'P2CORE_PAYLOAD_TOO_LARGE');
      expect((await upload(phone.token, many.slice(0, 100))).status).toBe(201);
    });

    it('413, not a 503 for ever, for a body under the limit whose command would be too large; nothing is stored', async () => {
      // 1e20 passes the JSON parser as a number and is written back as 21 digits: each package's
      // extensions hold 16280 characters once re-serialised (under the 16384 allowed), 3700 as sent
      expect((await http('POST', api('/register'), { json: { actor_name: 'hank', auth_payload: { password } } })).status).toBe(201);
      const session = await openSession('hank', 'hank-big');
      const extensions = `[${Array.from({ length: 740 }, () => '1e20').join(',')}]`;
      const packages = Array.from({ length: 66 }, () => JSON.stringify({ ...pkg(), leaf_node: 'AA==', extensions: 0 }).replace('"extensions":0', `"extensions":${extensions}`));
      const body = `[${packages.join(',')}]`;
      expect(Buffer.byteLength(body)).toBeLessThan(256 * 1024);
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await http('POST', api('/keypackage/@me'), { body, headers: { ...bearer(session.token), 'content-type': 'application/json', 'idempotency-key': 'hank-big' } });
        expectErrorBody(res, 413, 'P2CORE_PAYLOAD_TOO_LARGE');
        expect(res.body.message).toMatch(/AddKeyPackages command of \d+ bytes/);
      }
      expect(await rowsOf('hank@example.com')).toEqual([]);
      const events = await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id = 'keypackages-hank@example.com'`);
      expect(events.rows[0].n).toBe(0);
    });

    it('stores extensions exactly as sent, keys named like Object.prototype members included, and hands them out so', async () => {
      expect((await http('POST', api('/register'), { json: { actor_name: 'ivy', auth_payload: { password } } })).status).toBe(201);
      const session = await openSession('ivy', 'ivy-phone');
      const asSent = [
        '{"constructor":1,"a":2}',
        '{"prototype":5}',
        '{"__proto__":{"polluted":true},"toString":"x","valueOf":[{"hasOwnProperty":null}],"deep":{"constructor":{"prototype":{"__proto__":7}}}}',
        // as deep as allowed: 32 levels
        `${'['.repeat(32)}${']'.repeat(32)}`,
      ];
      const packages = asSent.map((extensions) => JSON.stringify({ ...pkg(), extensions: 0 }).replace('"extensions":0', `"extensions":${extensions}`));
      const res = await http('POST', api('/keypackage/@me'), { body: `[${packages.join(',')}]`, headers: { ...bearer(session.token), 'content-type': 'application/json' } });
      expect(res.status).toBe(201);
      const stored = await db.query(`SELECT extensions::text AS extensions FROM key_packages WHERE federation_id = 'ivy@example.com' ORDER BY added_index`);
      const expected = asSent.map((text) => canonicalJson(JSON.parse(text)));
      expect(stored.rows.map((r) => canonicalJson(JSON.parse(r.extensions)))).toEqual(expected);
      const handedOut: string[] = [];
      for (let i = 0; i < asSent.length; i++) {
        const fetched = await fetchPackages(session.token, 'ivy@example.com');
        expect(fetched.status).toBe(200);
        handedOut.push(canonicalJson(fetched.body[0].extensions));
      }
      expect(handedOut).toEqual(expected);
      const lr = JSON.stringify({ ...pkg(), extensions: 0 }).replace('"extensions":0', '"extensions":{"constructor":{"a":1}}');
      expect((await http('PUT', api('/keypackage_lr'), { body: lr, headers: { ...bearer(session.token), 'content-type': 'application/json' } })).status).toBe(204);
      const last = await db.query(`SELECT extensions::text AS extensions FROM key_packages WHERE federation_id = 'ivy@example.com' AND last_resort`);
      expect(canonicalJson(JSON.parse(last.rows[0].extensions))).toBe('{"constructor":{"a":1}}');
    });

    it('413 P2CORE_KEY_PACKAGE_LIMIT when a session would hold more than 500 unused KeyPackages', async () => {
      const session = await openSession('bob', 'bob-hoarder');
      for (let i = 0; i < 5; i++) {
        const batch = Array.from({ length: 100 }, () => ({ ...pkg([]), leaf_node: 'AA==' }));
        expect((await upload(session.token, batch, i % 2)).status).toBe(201);
      }
      expectErrorBody(await upload(session.token, [pkg()]), 413, 'P2CORE_KEY_PACKAGE_LIMIT');
      // handing one out makes room for one
      expect((await fetchPackages(bob.token, 'bob@example.com')).status).toBe(200);
      expect((await upload(session.token, [pkg()])).status).toBe(201);
    });
    it("413 still counts each session's own stock when two sessions of one actor upload in turn", async () => {
      // the certstore keeps one actor's stocks cert by cert between commands: every upload here is
      // decided on what it kept for the other session's uploads as well
      expect((await http('POST', api('/register'), { json: { actor_name: 'grace', auth_payload: { password } } })).status).toBe(201);
      const first = await openSession('grace', 'grace-first');
      const second = await openSession('grace', 'grace-second');
      for (let i = 0; i < 5; i++) {
        expect((await upload(first.token, Array.from({ length: 100 }, () => ({ ...pkg([]), leaf_node: 'AA==' })))).status).toBe(201);
        expect((await upload(second.token, [pkg()])).status).toBe(201);
      }
      expectErrorBody(await upload(first.token, [pkg()]), 413, 'P2CORE_KEY_PACKAGE_LIMIT');
      for (const count of [100, 100, 100, 100, 95]) {
        expect((await upload(second.token, Array.from({ length: count }, () => ({ ...pkg([]), leaf_node: 'AA==' })))).status).toBe(201);
        expectErrorBody(await upload(first.token, [pkg()]), 413, 'P2CORE_KEY_PACKAGE_LIMIT');
      }
      expectErrorBody(await upload(second.token, [pkg()]), 413, 'P2CORE_KEY_PACKAGE_LIMIT');
      const unused = (await rowsOf('grace@example.com')).filter((r) => !r.claimed && !r.last_resort);
      expect(unused.filter((r) => r.session_id === 'grace-first')).toHaveLength(500);
      expect(unused.filter((r) => r.session_id === 'grace-second')).toHaveLength(500);
    });
  });

  describe('PUT /keypackage_lr', () => {
    it('204; a replacement retires the previous one; the current one cannot be uploaded again', async () => {
      const session = await openSession('alice', 'lr-phone');
      const first = pkg();
      const res = await http('PUT', api('/keypackage_lr'), { json: first, headers: bearer(session.token) });
      expect(res.status).toBe(204);
      expect(res.text).toBe('');
      let rows = (await rowsOf('alice@example.com')).filter((r) => r.session_id === 'lr-phone');
      expect(rows.map((r) => [r.init_key, r.serial, r.last_resort, r.retired])).toEqual([[first.init_key, session.serial, true, false]]);

      expectErrorBody(await http('PUT', api('/keypackage_lr', 1), { json: first, headers: bearer(session.token) }), 409, 'P2CORE_DUPLICATE_INIT_KEY');
      const second = pkg();
      expect((await http('PUT', `${api('/keypackage_lr', 1)}/`, { json: second, headers: bearer(session.token) })).status).toBe(204);
      rows = (await rowsOf('alice@example.com')).filter((r) => r.session_id === 'lr-phone');
      expect(rows.map((r) => [r.init_key, r.retired])).toEqual([
        [first.init_key, true],
        [second.init_key, false],
      ]);
      // a retired package's init_key stays taken
      expectErrorBody(await upload(session.token, [first]), 409, 'P2CORE_DUPLICATE_INIT_KEY');
      const events = await db.query(
        `SELECT data FROM events WHERE stream_id = 'keypackages-alice@example.com' AND type = 'LastResortKeyPackageReplaced' ORDER BY stream_position`,
      );
      expect(events.rows.map((r) => r.data.keyPackage.initKey)).toEqual([first.init_key, second.init_key]);
    });

    it('400 for anything but one KeyPackage object', async () => {
      const session = await openSession('alice', 'lr-bad');
      for (const json of [[pkg(), pkg()], [], 'x', { ...pkg(), init_key: '' }, { ...pkg(), leaf_node: 5 }]) {
        expectErrorBody(await http('PUT', api('/keypackage_lr'), { json, headers: bearer(session.token) }), 400, 'P2CORE_MALFORMED_REQUEST');
      }
      expectErrorBody(await http('PUT', api('/keypackage_lr'), { headers: bearer(session.token) }), 400, 'P2CORE_MALFORMED_REQUEST');
      expect((await rowsOf('alice@example.com')).filter((r) => r.session_id === 'lr-bad')).toEqual([]);
    });

    let lrFieldSessions = 0;
    it.each([
      ['an empty init_key', { ...pkg(), init_key: '' }, 'init_key'],
      ['a non-base64 leaf_node', { ...pkg(), leaf_node: 'not base64!' }, 'leaf_node'],
      ['a numeric leaf_node', { ...pkg(), leaf_node: 5 }, 'leaf_node'],
      ['a missing cipher_suite', { ...pkg(), cipher_suite: undefined }, 'cipher_suite'],
      ['a protocol_version over the limit', { ...pkg(), protocol_version: 'm'.repeat(KEY_PACKAGE_LIMITS.labelMaxChars + 1) }, 'protocol_version'],
      ['extensions nested too deep', pkg(JSON.parse(`${'['.repeat(40)}${']'.repeat(40)}`)), 'extensions'],
      // every array is a level, empty or not: before, an empty innermost one was not counted
      ['extensions of 33 nested empty arrays', pkg(JSON.parse(`${'['.repeat(33)}${']'.repeat(33)}`)), 'extensions'],
      ['the one package of an array, init_key missing', [{ ...pkg(), init_key: undefined }], 'init_key'],
    ])('400 P2CORE_MALFORMED_REQUEST naming the field for %s', async (_, json, field) => {
      const session = await openSession('alice', `lr-field-${++lrFieldSessions}`);
      const res = await http('PUT', api('/keypackage_lr'), { json, headers: bearer(session.token) });
      expectErrorBody(res, 400, 'P2CORE_MALFORMED_REQUEST');
      expect(res.body.message).toMatch(new RegExp(`\\b${field}\\b`));
    });
  });

  describe('Idempotency-Key', () => {
    it("a session that reuses a deleted session's ID is not answered the old session's outcome for the same key", async () => {
      const sameKey = { 'idempotency-key': 'upload-1' };
      const deleter = await openSession('alice', 'reuse-deleter');
      const old = await openSession('alice', 'reused');
      const [oldPackage, oldLastResort] = [pkg(), pkg()];
      expect((await http('POST', api('/keypackage/@me'), { json: [oldPackage], headers: { ...bearer(old.token), ...sameKey } })).status).toBe(201);
      expect((await http('PUT', api('/keypackage_lr'), { json: oldLastResort, headers: { ...bearer(old.token), ...sameKey } })).status).toBe(204);
      // a retry by the same token is still the same command: nothing stored twice
      expect((await http('POST', api('/keypackage/@me', 1), { json: [oldPackage], headers: { ...bearer(old.token), ...sameKey } })).status).toBe(201);
      expect((await rowsOf('alice@example.com')).filter((r) => r.session_id === 'reused')).toHaveLength(2);

      expect((await http('PUT', api('/session/revoke'), { headers: bearer(old.token) })).status).toBe(204);
      const sensitive = { ...bearer(deleter.token), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', `${api('/session')}?session_id=reused`, { headers: sensitive })).status).toBe(204);
      const renewed = await openSession('alice', 'reused');
      const [newPackage, newLastResort] = [pkg(), pkg()];
      expect((await http('POST', api('/keypackage/@me'), { json: [newPackage], headers: { ...bearer(renewed.token), ...sameKey } })).status).toBe(201);
      expect((await http('PUT', api('/keypackage_lr'), { json: newLastResort, headers: { ...bearer(renewed.token), ...sameKey } })).status).toBe(204);
      // before: both answered the old session's outcome and stored nothing
      const stored = (await rowsOf('alice@example.com')).filter((r) => r.serial === renewed.serial);
      expect(stored.map((r) => [r.init_key, r.last_resort])).toEqual([
        [newPackage.init_key, false],
        [newLastResort.init_key, true],
      ]);
    });

    it('two sessions of one claimer sending the same key are two claims, each served its own KeyPackage; a retry by one token gets the same one', async () => {
      for (const name of ['kurt', 'lars']) expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
      const target = await openSession('kurt', 'stock');
      const packages = [pkg(), pkg()];
      expect((await upload(target.token, packages)).status).toBe(201);
      const sameKey = { 'idempotency-key': 'claim-1' };
      const phone = await openSession('lars', 'phone');
      const laptop = await openSession('lars', 'laptop');
      const claim = (token: string) => http('GET', api('/keypackage/kurt@example.com'), { headers: { ...bearer(token), ...sameKey } });
      const first = await claim(phone.token);
      expect([first.status, first.body]).toEqual([200, [packages[0]]]);
      expect((await claim(phone.token)).body).toEqual([packages[0]]);
      // before: the laptop was answered the phone's claim, a KeyPackage already handed out
      expect((await claim(laptop.token)).body).toEqual([packages[1]]);
      expect((await rowsOf('kurt@example.com')).map((r) => r.claimed)).toEqual([true, true]);
    });
  });

  describe('GET /keypackage/:fid', () => {
    it('one package per active session that has any, consumed; sessions with nothing are left out', async () => {
      const phone = await openSession('frank', 'phone');
      const laptop = await openSession('frank', 'laptop');
      await openSession('frank', 'tablet'); // nothing uploaded
      const phonePackages = [pkg(), pkg()];
      const laptopPackage = pkg({ any: ['json', 1, true, null] });
      expect((await upload(phone.token, phonePackages)).status).toBe(201);
      expect((await upload(laptop.token, [laptopPackage], 1)).status).toBe(201);
      const caller = await openSession('bob', 'bob-fetcher');

      const first = await fetchPackages(caller.token, 'frank@example.com');
      expect(first.status).toBe(200);
      // sessions in session-ID order; each package exactly as uploaded
      expect(first.body).toEqual([laptopPackage, phonePackages[0]]);
      const second = await fetchPackages(caller.token, 'frank@example.com', 1);
      expect(second.body).toEqual([phonePackages[1]]);
      const third = await fetchPackages(caller.token, 'frank@example.com');
      expect({ status: third.status, body: third.body }).toEqual({ status: 200, body: [] });

      const rows = await rowsOf('frank@example.com');
      expect(rows.every((r) => r.claimed)).toBe(true);
      const events = await db.query(`SELECT data FROM events WHERE stream_id = 'keypackages-frank@example.com' AND type = 'KeyPackageClaimed' ORDER BY stream_position`);
      expect(events.rows.map((r) => [r.data.initKey, r.data.sessionId, r.data.requestedBy])).toEqual([
        [laptopPackage.init_key, 'laptop', 'bob@example.com'],
        [phonePackages[0]!.init_key, 'phone', 'bob@example.com'],
        [phonePackages[1]!.init_key, 'phone', 'bob@example.com'],
      ]);
    });

    it('refuses HEAD with 405 and Allow: GET, and consumes nothing', async () => {
      // Fastify answers HEAD by running the GET's handler: the package was consumed and never seen
      expect((await http('POST', api('/register'), { json: { actor_name: 'gina', auth_payload: { password } } })).status).toBe(201);
      const owner = await openSession('gina', 'head');
      const one = pkg();
      expect((await upload(owner.token, [one])).status).toBe(201);
      const head = await http('HEAD', api('/keypackage/gina@example.com'), { headers: bearer(owner.token) });
      expect(head.status).toBe(405);
      expect(head.headers.get('allow')).toBe('GET');
      expect((await rowsOf('gina@example.com')).map((row) => row.claimed)).toEqual([false]);
      const res = await fetchPackages(owner.token, 'gina@example.com');
      expect(res.status).toBe(200);
      expect(res.body.map((p: Wire) => p.init_key)).toEqual([one.init_key]);
    });

    it('never hands out a package twice under 20 concurrent requests over both gateways', async () => {
      const one = await openSession('carol', 'c1');
      const two = await openSession('carol', 'c2');
      const stocked = [...Array.from({ length: 10 }, () => pkg()), ...Array.from({ length: 7 }, () => pkg())];
      expect((await upload(one.token, stocked.slice(0, 10))).status).toBe(201);
      expect((await upload(two.token, stocked.slice(10), 1)).status).toBe(201);
      const callers = [await openSession('bob', 'race-a'), await openSession('alice', 'race-b')];

      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => fetchPackages(callers[i % 2]!.token, i % 3 === 0 ? 'Carol%40Example.com' : 'carol@example.com', i % 2)),
      );
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      const handedOut = results.flatMap((r) => (r.body as Wire[]).map((p) => p.init_key));
      expect(new Set(handedOut).size).toBe(handedOut.length);
      expect(handedOut).toHaveLength(stocked.length);
      expect(new Set(handedOut)).toEqual(new Set(stocked.map((p) => p.init_key)));
      // one per session per request at most
      for (const r of results) expect((r.body as Wire[]).length).toBeLessThanOrEqual(2);

      const claimed = await db.query(
        `SELECT count(*)::int AS n FROM events WHERE stream_id = 'keypackages-carol@example.com' AND type = 'KeyPackageClaimed'`,
      );
      expect(claimed.rows[0].n).toBe(stocked.length);
      expect((await rowsOf('carol@example.com')).every((r) => r.claimed)).toBe(true);
    });

    it('serves the last resort when the stock is empty, again and again, marked used; a replacement clears the flag', async () => {
      const session = await openSession('dave', 'd1');
      const regular = pkg();
      const lastResort = pkg();
      expect((await upload(session.token, [regular])).status).toBe(201);
      expect((await http('PUT', api('/keypackage_lr'), { json: lastResort, headers: bearer(session.token) })).status).toBe(204);
      const caller = await openSession('bob', 'lr-fetcher');

      expect((await fetchPackages(caller.token, 'dave@example.com')).body).toEqual([regular]);
      expect((await fetchPackages(caller.token, 'dave@example.com', 1)).body).toEqual([lastResort]);
      expect((await fetchPackages(caller.token, 'dave@example.com')).body).toEqual([lastResort]);
      let rows = await rowsOf('dave@example.com');
      expect(rows.map((r) => [r.init_key, r.last_resort, r.claimed, r.served_count])).toEqual([
        [regular.init_key, false, true, 0],
        [lastResort.init_key, true, false, 2],
      ]);

      const served = await db.query(
        `SELECT data FROM events WHERE type = 'LastResortKeyPackageServed' AND stream_id = 'keypackages-dave@example.com' ORDER BY stream_position`,
      );
      expect(served.rows.map((r) => r.data)).toEqual([
        {
          federationId: 'dave@example.com',
          sessionId: 'd1',
          serial: session.serial,
          initKey: lastResort.init_key,
          requestedBy: 'bob@example.com',
          previouslyServed: false,
          servedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        },
        expect.objectContaining({ sessionId: 'd1', serial: session.serial, previouslyServed: true }),
      ]);

      const replacement = pkg();
      expect((await http('PUT', api('/keypackage_lr'), { json: replacement, headers: bearer(session.token) })).status).toBe(204);
      rows = await rowsOf('dave@example.com');
      expect(rows.filter((r) => r.last_resort).map((r) => [r.init_key, r.retired, r.served_count])).toEqual([
        [lastResort.init_key, true, 2],
        [replacement.init_key, false, 0],
      ]);
      expect((await fetchPackages(caller.token, 'dave@example.com')).body).toEqual([replacement]);
      const again = await db.query(
        `SELECT data FROM events WHERE type = 'LastResortKeyPackageServed' AND stream_id = 'keypackages-dave@example.com' ORDER BY stream_position DESC LIMIT 1`,
      );
      expect(again.rows[0].data).toEqual(expect.objectContaining({ initKey: replacement.init_key, previouslyServed: false }));
      // fresh regular packages take precedence again
      const refill = pkg();
      expect((await upload(session.token, [refill])).status).toBe(201);
      expect((await fetchPackages(caller.token, 'dave@example.com')).body).toEqual([refill]);
    });

    it("a deleted session's packages are not handed out", async () => {
      const kept = await openSession('erin', 'kept');
      const gone = await openSession('erin', 'gone');
      const keptPackage = pkg();
      expect((await upload(kept.token, [keptPackage])).status).toBe(201);
      expect((await upload(gone.token, [pkg(), pkg()])).status).toBe(201);
      expect((await http('PUT', api('/keypackage_lr'), { json: pkg(), headers: bearer(gone.token) })).status).toBe(204);
      const sensitive = { ...bearer(kept.token), 'x-p2-sensitive-solution': password };
      expect((await http('DELETE', `${api('/session')}?session_id=gone`, { headers: sensitive })).status).toBe(204);

      const res = await fetchPackages(kept.token, 'erin@example.com');
      expect(res.body).toEqual([keptPackage]);
      expect((await fetchPackages(kept.token, 'erin@example.com', 1)).body).toEqual([]);
      const goneRows = (await rowsOf('erin@example.com')).filter((r) => r.session_id === 'gone');
      expect(goneRows.map((r) => [r.claimed, r.served_count])).toEqual([
        [false, 0],
        [false, 0],
        [false, 0],
      ]);
      // a new session under the same ID does not inherit them (they are bound to the old cert)
      await openSession('erin', 'gone');
      expect((await fetchPackages(kept.token, 'erin@example.com')).body).toEqual([]);
    });

    it('after a cert rotation only packages bound to the new cert are handed out', async () => {
      const before = await openSession('frank', 'rotating');
      expect((await upload(before.token, [pkg()])).status).toBe(201);
      expect((await http('PUT', api('/keypackage_lr'), { json: pkg(), headers: bearer(before.token) })).status).toBe(204);
      const csr = opensslCsr({ localName: 'frank', domain: 'example.com', sessionId: 'rotating' });
      const rotated = await http('POST', api('/session/idcert'), {
        json: { csr: csr.csrPem },
        headers: { ...bearer(before.token), 'x-p2-sensitive-solution': password },
      });
      expect(rotated.status).toBe(201);
      const caller = await openSession('bob', 'rotation-watcher');
      expect((await fetchPackages(caller.token, 'frank@example.com')).body).toEqual([]);
      const fresh = pkg();
      expect((await upload(rotated.body.token, [fresh])).status).toBe(201);
      const newSerial = BigInt(`0x${new X509Certificate(rotated.body.id_cert).serialNumber}`).toString();
      expect((await rowsOf('frank@example.com')).find((r) => r.init_key === fresh.init_key)?.serial).toBe(newSerial);
      expect((await fetchPackages(caller.token, 'frank@example.com')).body).toEqual([fresh]);
    });

    it('404 P2CORE_ACTOR_NOT_FOUND for an unknown actor or another domain; 400 for a malformed fid', async () => {
      const caller = await openSession('bob', 'bob-404');
      expectErrorBody(await fetchPackages(caller.token, 'nobody@example.com'), 404, 'P2CORE_ACTOR_NOT_FOUND');
      expectErrorBody(await fetchPackages(caller.token, 'alice@elsewhere.org'), 404, 'P2CORE_ACTOR_NOT_FOUND');
      expectErrorBody(await fetchPackages(caller.token, 'not-a-fid'), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await fetchPackages(caller.token, 'a@b@example.com'), 400, 'P2CORE_MALFORMED_REQUEST');
      expectErrorBody(await fetchPackages(caller.token, '@me'), 400, 'P2CORE_MALFORMED_REQUEST');
    });
  });

  it('the key_packages read model rebuilt from the event log equals the live one', async () => {
    const snapshot = async () => (await db.query('SELECT * FROM key_packages ORDER BY init_key')).rows;
    const live = await snapshot();
    expect(live.some((r) => r.claimed_at !== null)).toBe(true);
    expect(live.some((r) => r.served_count > 0 && r.retired_at !== null)).toBe(true);
    await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
    expect(await snapshot()).toEqual(live);
  });
});

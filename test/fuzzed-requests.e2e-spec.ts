import { sign, createPrivateKey, X509Certificate } from 'node:crypto';
import { Client } from 'pg';
import { ERROR_CODE, topicNames, type Reply } from '@p2/contracts';
import { TestCluster } from './support/cluster';
import { CommandProbe } from './support/command-probe';
import { GatewayClient } from './support/gateway-client';
import { expectErrorBody, http, isClientErrorBody, type HttpResult } from './support/http';
import { opensslCsr } from './support/openssl';
import { rebuildFromLog, snapshotProjections } from './support/projections';
import { TopicRecords } from './support/topic-records';
import { mutateJson, ODD_VALUES, prng, type Rng } from './support/json-mutations';
import { freshKeyPackage } from './support/key-packages';

/** One request as a route expects it: the starting point of every mutation of that route. */
interface Template {
  readonly method: string;
  readonly path: string;
  readonly query?: Record<string, string>;
  readonly json?: unknown;
  readonly headers?: Record<string, string>;
}

/** A mutated request, written out so that a failure message can show it. */
interface Mutant {
  readonly method: string;
  readonly url: string;
  readonly body?: string;
  readonly headers: Record<string, string>;
  readonly mutation: string;
}

// FUZZ_SEED and FUZZ_REQUESTS run other or more requests locally; the suite runs these
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed2026);
const PER_ROUTE = Number(process.env.FUZZ_REQUESTS ?? 60);
// more requests than the suite's need more time than jest's 60 s per test
const TIMEOUT_MS = Math.max(60_000, PER_ROUTE * 1_000);

const CONTENT_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/octet-stream', '*/*', 'application/json, text/plain', ';;;'];
const AUTHORIZATIONS = ['Bearer', 'Bearer ', 'Bearer ' + 'A'.repeat(43), 'Bearer ' + '%'.repeat(43), 'Basic YTpi', 'bearer  x', 'Bearer ' + 'x'.repeat(4000), 'Bearer \u00ff'];
// 'retry-1' twice: a key used again, for different requests, is the case worth drawing often
const IDEMPOTENCY_KEYS = ['', ' ', 'k', 'x'.repeat(201), 'x'.repeat(5000), '\u00ff\u00fe', 'retry-1', 'retry-1'];
const SENSITIVE = ['', ' ', 'wrong', 'x'.repeat(3000), '\u00e9'];

/** Percent-encoded UTF-8; a lone surrogate, which has no UTF-8, as the bytes a careless encoder writes for it. */
function percentEncoded(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    return '%ED%A0%80';
  }
}

function mutate(rng: Rng, base: string, template: Template): Mutant {
  const headers: Record<string, string> = { ...template.headers };
  const query: Record<string, string> = { ...template.query };
  let path = template.path;
  let body: string | undefined = template.json === undefined ? undefined : JSON.stringify(template.json);
  if (body !== undefined) headers['content-type'] = 'application/json';
  let mutation: string;
  switch (rng.int(template.json === undefined ? 3 : 6)) {
    case 0: {
      // the query: a field of its own given an odd value, repeated, or an unknown one
      const key = rng.pick([...Object.keys(query), 'timestamp', 'session_id', 'serials', 'compromised', 'fid', 'limit', '__proto__']);
      const value = String(rng.pick(ODD_VALUES.filter((v) => typeof v !== 'object')));
      query[key] = rng.int(2) === 0 ? value : `${value}&${key}=${value}`;
      mutation = `query ${key}=${value.slice(0, 40)}`;
      break;
    }
    case 1: {
      // the headers the routes read
      const which = rng.int(4);
      if (which === 0 && headers.authorization !== undefined) headers.authorization = rng.pick(AUTHORIZATIONS);
      else if (which === 1 && headers['x-p2-sensitive-solution'] !== undefined) headers['x-p2-sensitive-solution'] = rng.pick(SENSITIVE);
      else if (which === 2) headers['idempotency-key'] = rng.pick(IDEMPOTENCY_KEYS);
      else headers['content-type'] = rng.pick(CONTENT_TYPES);
      mutation = `headers ${JSON.stringify(headers).slice(0, 120)}`;
      break;
    }
    case 2: {
      // a path parameter, or the path itself
      const segments = path.split('/');
      const i = segments.length - 1;
      segments[i] = percentEncoded(String(rng.pick(ODD_VALUES.filter((v) => typeof v === 'string')))).slice(0, 300) || '%20';
      path = rng.int(3) === 0 ? segments.join('/') : `${path}${rng.pick(['/', '//', '/x', '.json', '%2F', ';a=b'])}`;
      mutation = `path ${path.slice(0, 80)}`;
      break;
    }
    default: {
      // one change to the body, or a few on top of each other while it is still JSON
      let mutated = mutateJson(rng, template.json);
      for (let more = rng.int(3); more > 0; more--) {
        let json: unknown;
        try {
          json = JSON.parse(mutated.body);
        } catch {
          break;
        }
        const next = mutateJson(rng, json);
        mutated = { body: next.body, mutation: `${mutated.mutation}, then ${next.mutation}` };
      }
      body = mutated.body;
      mutation = mutated.mutation;
    }
  }
  const search = new URLSearchParams(query).toString().replace(/%26/g, '&').replace(/%3D/g, '=');
  return { method: template.method, url: `${base}${path}${search ? `?${search}` : ''}`, body, headers, mutation };
}

/** The template written out as it is. */
function unmodified(base: string, template: Template): Mutant {
  const headers: Record<string, string> = { ...template.headers };
  if (template.json !== undefined) headers['content-type'] = 'application/json';
  const search = new URLSearchParams(template.query).toString();
  const body = template.json === undefined ? undefined : JSON.stringify(template.json);
  return { method: template.method, url: `${base}${template.path}${search ? `?${search}` : ''}`, body, headers, mutation: 'as it is' };
}

/**
 * Malformed requests, generated (docs/protocol.md#generated-input): every route gets requests a
 * careless or hostile client sends (odd values in each field, fields removed, cut and corrupted
 * JSON, wrong content types and credentials, odd queries and paths), made by a seeded generator so
 * that a failure is reproducible. Each answer must be a success or a 4xx with the error body, never
 * a 5xx, and the cluster must still answer correctly afterwards, each KeyPackage it accepted stored
 * once. The WebSocket frames and the commands the certstore receives get the same treatment below.
 */
describe('generated malformed requests: a 4xx with the error body, never a 5xx', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const domain = 'example.com';
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  let sessionCount = 0;
  let commands: TopicRecords<{ type: string; data: unknown; metadata: Record<string, unknown> }>;
  /** the bodies of the KeyPackage uploads that were accepted (201), to count what must be stored */
  const acceptedUploads: string[] = [];
  const acceptedKeys = new Set<string>();

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'fuzzed', env: { P2_ADMINS: 'keeper' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    // the commands the routes send: the certstore's part starts from them
    commands = new TopicRecords(topicNames(cluster.topicPrefix).commands);
    await commands.start();
    for (const name of ['fuzzer', 'target']) {
      expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
    }
    await cluster.createAdmin('keeper', password);
  });

  afterAll(async () => {
    await commands?.stop();
    await db?.end();
    await cluster?.stop();
  });

  /** A session of its own for each route: a mutant that succeeds may end it (revoke, logout). */
  async function openSession(actor = 'fuzzer'): Promise<{ token: string; idCert: string; keyPem: string; serial: string; sessionId: string }> {
    const sessionId = `fuzz-${++sessionCount}`;
    const csr = opensslCsr({ localName: actor, domain, sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    const serial = BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString();
    return { token: res.body.token, idCert: res.body.id_cert, keyPem: csr.keyPem, serial, sessionId };
  }

  const keyPackage = () => freshKeyPackage([{ extension_type: 10, extension_data: 'AQI=' }]);

  /** The routes, each with a request it accepts. Built per route, after the previous route's mutants ran. */
  const routes: Record<string, () => Promise<Template>> = {
    'POST /register': async () => ({ method: 'POST', path: '/register', json: { actor_name: `n${sessionCount++}`, auth_payload: { password } } }),
    'POST /session/trust': async () => ({
      method: 'POST',
      path: '/session/trust',
      json: { actor_name: 'fuzzer', csr: opensslCsr({ localName: 'fuzzer', domain, sessionId: `trust-${++sessionCount}` }).csrPem, auth_payload: { password } },
    }),
    'POST /session/idcert': async () => {
      const s = await openSession();
      return {
        method: 'POST',
        path: '/session/idcert',
        json: { csr: opensslCsr({ localName: 'fuzzer', domain, sessionId: s.sessionId }).csrPem },
        headers: { authorization: `Bearer ${s.token}`, 'x-p2-sensitive-solution': password },
      };
    },
    'POST /keypackage/@me': async () => ({ method: 'POST', path: '/keypackage/@me', json: [keyPackage(), keyPackage()], headers: { authorization: `Bearer ${(await openSession()).token}` } }),
    'PUT /keypackage_lr': async () => ({ method: 'PUT', path: '/keypackage_lr', json: keyPackage(), headers: { authorization: `Bearer ${(await openSession()).token}` } }),
    'GET /keypackage/:fid': async () => ({ method: 'GET', path: `/keypackage/fuzzer@${domain}`, headers: { authorization: `Bearer ${(await openSession('target')).token}` } }),
    'POST /session/keymaterial': async () => {
      const s = await openSession();
      return { method: 'POST', path: '/session/keymaterial', json: { key_data: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n', serial_number: s.serial }, headers: { authorization: `Bearer ${s.token}` } };
    },
    'GET /session/keymaterial': async () => {
      const s = await openSession();
      const stored = await http('POST', api('/session/keymaterial'), { json: { key_data: 'PEM', serial_number: s.serial }, headers: { authorization: `Bearer ${s.token}` } });
      expect(stored.status).toBe(201);
      return { method: 'GET', path: '/session/keymaterial', query: { serials: s.serial }, headers: { authorization: `Bearer ${s.token}` } };
    },
    'DELETE /session/keymaterial': async () => {
      const s = await openSession();
      const stored = await http('POST', api('/session/keymaterial'), { json: { key_data: 'PEM', serial_number: s.serial }, headers: { authorization: `Bearer ${s.token}` } });
      expect(stored.status).toBe(201);
      return { method: 'DELETE', path: '/session/keymaterial', query: { serials: s.serial }, headers: { authorization: `Bearer ${s.token}`, 'x-p2-sensitive-solution': password } };
    },
    'GET /session/keymaterial/size': async () => ({ method: 'GET', path: '/session/keymaterial/size', headers: { authorization: `Bearer ${(await openSession()).token}` } }),
    // the 2024 form of the size route: a handler of its own, without a guard
    'OPTIONS /session/keymaterial': async () => ({ method: 'OPTIONS', path: '/session/keymaterial' }),
    'GET /events': async () => ({ method: 'GET', path: '/events', headers: { authorization: `Bearer ${(await openSession()).token}` } }),
    'GET /challenge': async () => ({ method: 'GET', path: '/challenge', query: { fid: `fuzzer@${domain}` } }),
    'POST /session/identify': async () => {
      const s = await openSession();
      const challenge = (await http('GET', api('/challenge'))).body.challenge as string;
      const signature = sign(null, Buffer.from(challenge, 'utf8'), createPrivateKey(s.keyPem)).toString('hex');
      return { method: 'POST', path: '/session/identify', json: { completed_challenge: { challenge, signature }, auth_payload: {}, id_cert: s.idCert } };
    },
    'PUT /session/idcert/extern': async () => {
      const s = await openSession();
      return { method: 'PUT', path: '/session/idcert/extern', json: { id_cert: s.idCert }, headers: { authorization: `Bearer ${s.token}` } };
    },
    // the 2024 method: a handler of its own, with its own guards and body reading
    'POST /session/idcert/extern': async () => {
      const s = await openSession();
      return { method: 'POST', path: '/session/idcert/extern', json: { id_cert: s.idCert }, headers: { authorization: `Bearer ${s.token}` } };
    },
    'POST /idcert': async () => {
      const s = await openSession();
      return {
        method: 'POST',
        path: '/idcert',
        json: { csr: opensslCsr({ localName: 'fuzzer', domain, sessionId: s.sessionId }).csrPem },
        headers: { authorization: `Bearer ${s.token}`, 'x-p2-sensitive-solution': password },
      };
    },
    'GET /idcert/actor/:fid': async () => ({ method: 'GET', path: `/idcert/actor/fuzzer@${domain}`, query: { timestamp: String(Math.floor(Date.now() / 1000)) } }),
    'GET /key/actor/:fid': async () => ({ method: 'GET', path: `/key/actor/fuzzer@${domain}`, query: { session_id: (await openSession()).sessionId } }),
    'GET /idcert/server': async () => ({ method: 'GET', path: '/idcert/server', query: { timestamp: String(Math.floor(Date.now() / 1000)) } }),
    'GET /key/server': async () => ({ method: 'GET', path: '/key/server' }),
    'GET /.well-known/polyproto-core': async () => ({ method: 'GET', path: '/.well-known/polyproto-core' }),
    'POST /session/revoke': async () => ({ method: 'POST', path: '/session/revoke', headers: { authorization: `Bearer ${(await openSession()).token}` } }),
    'PUT /session/revoke': async () => ({ method: 'PUT', path: '/session/revoke', json: {}, headers: { authorization: `Bearer ${(await openSession()).token}` } }),
    'DELETE /session': async () => {
      const s = await openSession();
      return { method: 'DELETE', path: '/session', query: { session_id: s.sessionId }, headers: { authorization: `Bearer ${s.token}`, 'x-p2-sensitive-solution': password } };
    },
    // last: a mutant that succeeds rotates the server's key (both methods: each handler has its own guards and validation)
    'PUT /key/server': async () => ({
      method: 'PUT',
      path: '/key/server',
      json: { compromised: false },
      headers: { authorization: `Bearer ${(await openSession('keeper')).token}`, 'x-p2-sensitive-solution': password },
    }),
    'POST /key/server': async () => ({
      method: 'POST',
      path: '/key/server',
      query: { compromised: 'false' },
      headers: { authorization: `Bearer ${(await openSession('keeper')).token}`, 'x-p2-sensitive-solution': password },
    }),
  };

  it.each(Object.keys(routes).map((route, index) => [route, index] as const))('%s', async (route, index) => {
    const base = (template: Template) => (template.path.startsWith('/.well-known/') ? cluster.url : api(''));
    // The route must accept its template, or a stale token, a wrong second factor or a used challenge
    // would stop every mutant at the guard and the route's validation would never be reached. The
    // check sends a twin built the same way: many templates are single-use (a name, a challenge, a
    // session the request ends, a cert it rotates).
    const surprises: string[] = [];
    const twin = await routes[route]!();
    const plain = unmodified(base(twin), twin);
    const accepted = await http(plain.method, plain.url, { body: plain.body, headers: plain.headers });
    if (accepted.status >= 300) surprises.push(`the template as it is: ${accepted.status} ${accepted.text.slice(0, 200)}`);
    else if (route === 'POST /keypackage/@me') acceptedUploads.push(plain.body ?? '');
    const template = await routes[route]!();
    const rng = prng(SEED + index);
    // how many mutants of the query or body the guard let through to validation and the handler
    let pastGuard = 0;
    // each accepted server key rotation signs a new root: fewer of them
    const count = /^(PUT|POST) \/key\/server$/.test(route) ? Math.ceil(PER_ROUTE / 3) : PER_ROUTE;
    for (let i = 0; i < count; i++) {
      const mutant = mutate(rng, base(template), template);
      let res: HttpResult;
      try {
        res = await http(mutant.method, mutant.url, { body: mutant.body, headers: mutant.headers });
      } catch (error) {
        surprises.push(`#${i} ${mutant.mutation}: no answer (${(error as Error).message})`);
        continue;
      }
      // a 201 to a key that had one before is that first outcome again (docs/protocol.md#idempotency-key): nothing new stored
      const key = mutant.headers['idempotency-key'];
      if (route === 'POST /keypackage/@me' && res.status === 201 && !(key !== undefined && acceptedKeys.has(key))) {
        acceptedUploads.push(mutant.body ?? '');
        if (key !== undefined) acceptedKeys.add(key);
      }
      // a key material read names the serials it has nothing for in a bare array (docs/protocol.md#key-material-404)
      const missingSerials = route === 'GET /session/keymaterial' && res.status === 404 && Array.isArray(res.body) && res.body.every((serial: unknown) => typeof serial === 'string');
      // no answer repeats a secret the request carried, whatever it was refused for
      const secrets = [password, ...Object.values(template.headers ?? {}).flatMap((value) => value.match(/^Bearer (.+)$/)?.slice(1) ?? [])];
      const leaked = secrets.find((secret) => res.text.includes(secret));
      if (leaked !== undefined) surprises.push(`#${i} ${mutant.mutation}: the answer holds a secret of the request`);
      if (!(res.status < 300 || isClientErrorBody(res) || missingSerials)) surprises.push(`#${i} ${mutant.mutation}: ${res.status} ${res.text.slice(0, 200)}`);
      // a changed path may name no route, and a changed header may be refused before any guard runs:
      // only the query and body mutants tell whether the guard lets them by
      if (!/^(path|headers) /.test(mutant.mutation) && res.status !== 401 && res.status !== 403) pastGuard++;
    }
    // most mutants keep the template's credentials: if none got past the guard, they were wrong
    if (pastGuard === 0) surprises.push(`no query or body mutant of ${count} got past the guard`);
    expect(surprises).toEqual([]);
  }, TIMEOUT_MS);

  it('WebSocket gateway: generated malformed frames are answered or close the socket with a 4xxx code; the other sockets stay', async () => {
    const s = await openSession('target');
    const bystander = await GatewayClient.connect(cluster.url);
    await bystander.identify(s.token);
    const frames: unknown[] = [
      { n: 'core', op: 2, d: { token: s.token } },
      { n: 'core', op: 0, d: { from: '0', to: '0', except: [] } },
      { n: 'core', op: 5, d: { s: '0', token: s.token } },
      { n: 'core', op: 8, d: { action: 'subscribe', service: 'chat' } },
    ];
    const rng = prng(SEED - 1);
    const surprises: string[] = [];
    for (let i = 0; i < PER_ROUTE; i++) {
      const frame = rng.pick(frames);
      const mutated = rng.int(4) === 0 ? { body: JSON.stringify(frame), mutation: 'as it is' } : mutateJson(rng, frame);
      const client = await GatewayClient.connect(cluster.url, { heartbeats: false });
      // half of them after an Identify, so that the frames of an identified socket are reached too
      const identified = rng.int(2) === 0;
      if (identified) await client.identify(s.token);
      client.send(mutated.body);
      await client.sync();
      const code = client.closed?.code;
      if (code !== undefined && !(code >= 4000 && code < 5000)) surprises.push(`#${i} ${identified ? 'identified, ' : ''}${mutated.mutation}: closed with ${code}`);
      client.close();
    }
    expect(surprises).toEqual([]);
    // past the 64 KiB a client message may have, ws closes with 1009 (Message Too Big) before anything parses it
    const oversized = await GatewayClient.connect(cluster.url, { heartbeats: false });
    oversized.send(JSON.stringify({ n: 'core', op: 2, d: { token: 'x'.repeat(64 * 1024) } }));
    expect((await oversized.closedWith()).code).toBe(1009);
    // the socket that sent nothing odd is still open and still answered
    await bystander.sync();
    expect(bystander.closed).toBeUndefined();
    bystander.close();
  }, TIMEOUT_MS);

  it('afterwards the cluster still serves writes and reads, and each accepted KeyPackage is stored once', async () => {
    const stored = async () =>
      (await db.query(`SELECT count(*)::int AS n FROM key_packages WHERE federation_id = $1 AND NOT last_resort`, [`fuzzer@${domain}`])).rows[0].n as number;
    const sent = acceptedUploads.reduce((sum, body) => {
      const packages: unknown = JSON.parse(body);
      return sum + (Array.isArray(packages) ? packages.length : 1);
    }, 0);
    expect(acceptedUploads.length).toBeGreaterThan(0);
    expect(await stored()).toBe(sent);
    const s = await openSession('target');
    const upload = await http('POST', api('/keypackage/@me'), { json: [keyPackage()], headers: { authorization: `Bearer ${s.token}` } });
    expect(upload.status).toBe(201);
    expect((await http('GET', api(`/idcert/actor/target@${domain}`))).status).toBe(200);
    expectErrorBody(await http('GET', api('/key/actor/nobody@example.com')), 404, 'P2CORE_ACTOR_NOT_FOUND');
  });

  it('certstore: the commands the routes sent, changed by the generator, each get one reply, applied or refused; none is set aside', async () => {
    const probe = new CommandProbe(cluster.topicPrefix);
    await probe.start();
    try {
      const sent = [...new Map(commands.values.map((c) => [c.type, c])).values()];
      expect(sent.length).toBeGreaterThanOrEqual(10); // every kind of write the routes above make
      const rng = prng(SEED - 2);
      const mutants = Array.from({ length: PER_ROUTE * 4 }, () => {
        const command = rng.pick(sent);
        const changed = rng.int(8) === 0 ? { type: rng.pick(sent).type, data: command.data, mutation: 'another type' } : (() => {
          // only what JSON.parse gives back can be sent as data; noise that breaks the JSON is the envelope's (dead-lettered by design)
          for (;;) {
            const mutated = mutateJson(rng, command.data);
            try {
              return { type: command.type, data: JSON.parse(mutated.body) as unknown, mutation: mutated.mutation };
            } catch {
              continue;
            }
          }
        })();
        return { envelope: probe.envelope(changed.type, changed.data), label: `${command.type} → ${changed.type}: ${changed.mutation}` };
      });
      // in units of 40 to one partition: the certstore takes each as one batch, refusals undone one by one
      for (let i = 0; i < mutants.length; i += 40) await probe.send(mutants.slice(i, i + 40).map((m) => m.envelope));
      const sentinel = probe.envelope('RegisterActor', (commands.values.find((c) => c.type === 'RegisterActor')!.data as Record<string, unknown>));
      await probe.send([sentinel]);
      // one partition, one reply partition: when the last one's reply is here, every earlier one's is
      const last = await probe.replyFor(sentinel.metadata.messageId as string, 60_000);
      expect(last.ok === true || last.error.code !== ERROR_CODE.unavailable).toBe(true);
      const surprises: string[] = [];
      for (const { envelope, label } of mutants) {
        const replies: Reply[] = await probe.repliesTo(envelope.metadata.messageId as string, 1, 1_000).catch(() => []);
        const reply = replies[0];
        if (replies.length !== 1) surprises.push(`${label}: ${replies.length} replies`);
        else if (!reply!.ok && (reply!.error.code === ERROR_CODE.unavailable || reply!.error.code === ERROR_CODE.internal || !/^P2CORE_[A-Z_]+$/.test(reply!.error.code))) {
          surprises.push(`${label}: ${reply!.error.code} ${reply!.error.message.slice(0, 200)}`);
        }
      }
      expect(surprises).toEqual([]);
      expect(await probe.deadLetterCount()).toBe(0);
    } finally {
      await probe.stop();
    }
  }, TIMEOUT_MS);

  it('after all of it, the read models rebuilt from the event log equal the live ones', async () => {
    const live = await snapshotProjections(db);
    expect(live.key_packages!.length).toBeGreaterThan(0);
    expect(live.key_material!.length).toBeGreaterThan(0);
    const replayed = await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
    expect(replayed).toBe((await db.query('SELECT count(*)::int AS n FROM events')).rows[0].n);
    expect(await snapshotProjections(db)).toEqual(live);
  });

  describe('what a black-box probe of the body reader found', () => {
    const BIG = '18446744073709551617123';
    /** A body sent as text, so that a number literal travels as written. */
    const send = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
      http(method, api(path), { body, headers: { 'content-type': 'application/json', ...headers } });
    /** A number in a text field, big or small, gets the same refusal, naming the field (its
     * wording is the field's first check's: "must be a string" for most). */
    async function sameRefusal(method: string, path: string, body: (n: string) => string, field: string, headers: Record<string, string> = {}, code: string = ERROR_CODE.malformedRequest): Promise<void> {
      const small = await send(method, path, body('7'), headers);
      expectErrorBody(small, 400, code);
      expect(small.body.message).toMatch(new RegExp(`^The field "${field.replace(/[.[\]]/g, '\\$&')}" `));
      const big = await send(method, path, body(BIG), headers);
      expect({ status: big.status, body: big.body as unknown }).toEqual({ status: 400, body: small.body as unknown });
    }

    it('D4: a JSON number in a text field is refused whatever its size; a serial or a KeyPackage extension still keeps a big one exactly', async () => {
      await sameRefusal('POST', '/register', (n) => `{"actor_name":${n},"auth_payload":{"password":"${password}"}}`, 'actor_name', {}, ERROR_CODE.invalidActorName);
      await sameRefusal('POST', '/register', (n) => `{"actor_name":"probe-d4","auth_payload":{"password":${n}}}`, 'auth_payload.password');
      expect((await db.query('SELECT local_name FROM actors WHERE local_name = ANY($1)', [[BIG, 'probe-d4']])).rows).toEqual([]);

      // a session whose serial a double cannot hold (one in 2048 is smaller: draw again)
      let s = await openSession();
      while (Number.isSafeInteger(Number(s.serial))) s = await openSession();
      const auth = { authorization: `Bearer ${s.token}` };
      await sameRefusal('POST', '/session/keymaterial', (n) => `{"key_data":${n},"serial_number":${s.serial}}`, 'key_data', auth);
      const pkg = JSON.stringify(keyPackage());
      await sameRefusal('POST', '/keypackage/@me', (n) => `[${pkg.replace('"mls10"', n)}]`, '[0].protocol_version', auth);
      await sameRefusal('PUT', '/keypackage_lr', (n) => pkg.replace('"MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"', n), 'cipher_suite', auth);
      await sameRefusal('DELETE', '/session', (n) => `{"session_id":${n}}`, 'session_id', { ...auth, 'x-p2-sensitive-solution': password });

      expect((await send('POST', '/session/keymaterial', `{"key_data":"PEM","serial_number":${s.serial}}`, auth)).status).toBe(201);
      expect((await db.query('SELECT serial::text, key_data FROM key_material WHERE federation_id = $1 AND serial = $2', [`fuzzer@${domain}`, s.serial])).rows).toEqual([{ serial: s.serial, key_data: 'PEM' }]);
      const read = await send('GET', '/session/keymaterial', `[${s.serial}]`, auth);
      expect({ status: read.status, serials: (read.body as { serial_number: string }[]).map((item) => item.serial_number) }).toEqual({ status: 200, serials: [s.serial] });

      const withBig = `[${JSON.stringify(keyPackage()).replace(/"extensions":.*\}$/, `"extensions":[{"n":${BIG}}]}`)}]`;
      expect((await send('POST', '/keypackage/@me', withBig, auth)).status).toBe(201);
      const initKey = (JSON.parse(withBig) as { init_key: string }[])[0]!.init_key;
      expect((await db.query('SELECT extensions FROM key_packages WHERE init_key = $1', [initKey])).rows).toEqual([{ extensions: [{ n: BIG }] }]);
    }, TIMEOUT_MS);

    it('D5: a valid body with an integer literal over 400 digits gets the answer of a shorter one', async () => {
      const answer = async (digits: number) => {
        const res = await send('GET', '/idcert/server', `{"timestamp":${'9'.repeat(digits)}}`);
        return { status: res.status, body: res.body as unknown };
      };
      const timeRange = {
        status: 400,
        body: { errcode: 400, error: ERROR_CODE.malformedRequest, message: 'The field "timestamp" must be a time in UNIX seconds from 0 to 8640000000000 (a JSON number or a decimal string).' },
      };
      for (const digits of [20, 400, 401, 1000, 100_000]) expect({ digits, answer: await answer(digits) }).toEqual({ digits, answer: timeRange });

      const s = await openSession();
      const serials = async (body: string) => {
        const res = await send('GET', '/session/keymaterial', body, { authorization: `Bearer ${s.token}` });
        return { status: res.status, body: res.body as unknown };
      };
      const nines = '9'.repeat(1000);
      const asString = await serials(`["${nines}"]`);
      expect(asString.status).toBe(400);
      expect(await serials(`[${nines}]`)).toEqual(asString);
    }, TIMEOUT_MS);

    it('D3: a Content-Type that does not parse counts as none: the JSON body is read', async () => {
      const res = await http('POST', api('/register'), { body: `{"actor_name":"probe-d3","auth_payload":{"password":"${password}"}}`, headers: { 'content-type': ';;;' } });
      expect({ status: res.status, body: res.body as unknown }).toEqual({ status: 201, body: { fid: `probe-d3@${domain}` } });
      expect((await db.query('SELECT federation_id FROM actors WHERE local_name = $1', ['probe-d3'])).rows).toEqual([{ federation_id: `probe-d3@${domain}` }]);
      // a malformed body behind such a header is refused as any malformed body is
      expectErrorBody(await http('POST', api('/register'), { body: '{"actor_name":', headers: { 'content-type': ';;;' } }), 400, ERROR_CODE.malformedRequest);
      const read = await http('GET', api('/idcert/server'), { body: `{"timestamp":${'9'.repeat(20)}}`, headers: { 'content-type': 'json' } });
      expectErrorBody(read, 400, ERROR_CODE.malformedRequest);
    }, TIMEOUT_MS);
  });
});

import { Client } from 'pg';
import { topicNames } from '@p2/contracts';
import type { AuditEntry, TelemetrySnapshot } from '@p2/observability';
import { eventually } from '@p2/testing';
import type { CliIo } from '../apps/p2ctl/src/io';
import { runP2ctl } from '../apps/p2ctl/src/p2ctl';
import { TestCluster } from './support/cluster';
import { credentialSealKeyOf, sealedPasswordHash } from './support/sealed-credentials';
import { CommandProbe } from './support/command-probe';
import { expectErrorBody, http } from './support/http';
import { sample } from './support/metrics';
import { opensslCsr } from './support/openssl';
import { TopicRecords } from './support/topic-records';

const METRICS_TOKEN = 'metrics-token-0123456789abcdef';
const PASSWORD = 'correct horse battery staple';
const ADMIN_PASSWORD = 'admin password that is long';

/** A p2ctl run in this process, with its output captured. */
async function p2ctl(cluster: TestCluster, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    env: { KAFKA_BROKERS: process.env.KAFKA_BROKERS, P2_KAFKA_TOPIC_PREFIX: cluster.topicPrefix, DATABASE_URL: cluster.databaseUrl, P2_DOMAIN: 'example.com', P2_ADMINS: 'root', P2_OPERATOR: 'tester', ...env },
    out: (line) => void (out += `${line}\n`),
    err: (line) => void (err += `${line}\n`),
    readStdin: async () => env.STDIN ?? '',
  };
  const code = await runP2ctl(args, io);
  return { code, out, err };
}

/** Operating the cluster through Kafka topics, Prometheus metrics, health probes and p2ctl, on the
 * real broker and database (one certstore, one gateway in this process). */
describe('operating the cluster', () => {
  let cluster: TestCluster;
  let db: Client;
  let telemetry: TopicRecords<TelemetrySnapshot>;
  let audit: TopicRecords<AuditEntry>;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'operations', env: { P2_TELEMETRY_INTERVAL_MS: '300', P2_METRICS_TOKEN: METRICS_TOKEN, P2_ADMINS: 'root' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    telemetry = new TopicRecords(topicNames(cluster.topicPrefix).telemetry);
    audit = new TopicRecords(topicNames(cluster.topicPrefix).audit);
    await Promise.all([telemetry.start(), audit.start()]);
  });

  afterAll(async () => {
    await telemetry?.stop();
    await audit?.stop();
    await db?.end();
    await cluster?.stop();
  });

  async function register(name: string, password = PASSWORD) {
    const res = await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } });
    expect(res.status).toBe(201);
  }

  async function openSession(name: string, sessionId: string, password = PASSWORD): Promise<string> {
    const csr = opensslCsr({ localName: name, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: name, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return res.body.token as string;
  }

  const auditWhere = (check: (entry: AuditEntry) => boolean) => eventually(() => audit.values.filter(check), { until: (found) => found.length > 0, what: 'audit entries' });

  describe('telemetry on p2.core.telemetry.v1', () => {
    it('has snapshots of both roles, keyed by instance, with the figures of their role', async () => {
      await register('tina');
      const latest = (role: string, until: (s: TelemetrySnapshot) => boolean) =>
        eventually(() => [...telemetry.values].reverse().find((s) => s.role === role && until(s)), { until: (s) => s !== undefined, what: `a ${role} snapshot` });
      // each snapshot holds the figures of its own interval: the request's route is in the one whose
      // interval it ended in, which may have been taken while the reply was still being fetched
      // (lag 1); once the gateway caught up, a later snapshot must say 0 (a lag that never reaches 0
      // fails here)
      const gateway = (await latest('gateway', (s) => s.http.routes.some((r) => r.route === '/.p2/core/v1/register')))!;
      await latest('gateway', (s) => s.consumerLag?.[0]?.lag === 0 && telemetry.values.indexOf(s) >= telemetry.values.indexOf(gateway));
      expect(gateway).toEqual(
        expect.objectContaining({ schemaVersion: 1, status: 'ready', version: expect.any(String), intervalSeconds: expect.any(Number), checks: expect.objectContaining({ kafka: true, postgres: true, 'replies-partition': true }) }),
      );
      expect(gateway.http.routes.find((r) => r.route === '/.p2/core/v1/register')).toEqual(expect.objectContaining({ method: 'POST', count: 1, latencyMs: expect.objectContaining({ p99: expect.any(Number) }) }));
      expect(gateway.consumerLag).toEqual([expect.objectContaining({ topic: topicNames(cluster.topicPrefix).replies, lag: expect.any(Number) })]);
      expect(gateway.database).toEqual(expect.objectContaining({ max: 20 }));
      const certstore = (await latest('certstore', (s) => s.commands.byType.some((c) => c.type === 'RegisterActor')))!;
      expect(certstore.commands.byType.find((c) => c.type === 'RegisterActor')).toEqual(expect.objectContaining({ accepted: 1, refused: 0, dead_lettered: 0 }));
      // the batch is counted when it committed, its commands once their replies are out: an interval
      // may end in between, so the batch is looked for in any snapshot of the certstore
      await latest('certstore', (s) => s.commands.batchSize.batches >= 1);
      expect(certstore.checks).toEqual(expect.objectContaining({ 'commands-group': true }));
      expect(certstore.relay).toEqual(expect.objectContaining({ active: true, lagEvents: expect.any(Number) }));
      expect(certstore.projections).toEqual({ rebuilding: false });
      expect(certstore.consumerLag?.length).toBeGreaterThan(0);
      // the cache is counted when the stream is loaded, the command when it committed: an interval
      // may end in between, so the cache figures are looked for in any snapshot of the certstore
      const withCache = (await latest('certstore', (s) => s.caches.some((c) => c.name === 'folded-streams')))!;
      expect(withCache.caches.find((c) => c.name === 'folded-streams')).toEqual(expect.objectContaining({ misses: expect.any(Number) }));
      const index = telemetry.values.indexOf(certstore);
      expect(telemetry.keys[index]).toBe(certstore.instance);
    });
  });

  describe('audit entries on p2.core.audit.v1', () => {
    it('records a failed login (wrong password and unknown actor) without the password', async () => {
      await register('uma');
      const wrong = 'not the password of uma';
      const csr = opensslCsr({ localName: 'uma', domain: 'example.com', sessionId: 'laptop' });
      const res = await http('POST', api('/session/trust'), { json: { actor_name: 'uma', csr: csr.csrPem, auth_payload: { password: wrong } }, headers: { 'x-request-id': 'login-uma-1' } });
      expectErrorBody(res, 401, 'P2CORE_INVALID_CREDENTIALS');
      expect(res.headers.get('x-request-id')).toBe('login-uma-1');
      const [entry] = await auditWhere((e) => e.kind === 'login.failed' && e.actor === 'uma@example.com');
      expect(entry).toEqual(
        expect.objectContaining({ reason: 'wrong-password', route: '/.p2/core/v1/session/trust', clientAddress: '127.0.0.1', correlationId: 'login-uma-1', role: 'gateway', at: expect.any(String) }),
      );
      expect(JSON.stringify(audit.values)).not.toContain(wrong);

      // a password typed into the name field passes the name's format and names no actor: it is not recorded
      const typedAsName = 'umasecretpassword';
      const unknown = await http('POST', api('/session/trust'), { json: { actor_name: typedAsName, csr: csr.csrPem, auth_payload: { password: wrong } }, headers: { 'x-request-id': 'login-unknown-1' } });
      expectErrorBody(unknown, 401, 'P2CORE_INVALID_CREDENTIALS');
      const [unknownEntry] = await auditWhere((e) => e.correlationId === 'login-unknown-1');
      expect(unknownEntry).toEqual(expect.objectContaining({ kind: 'login.failed', reason: 'unknown-actor', actor: null, clientAddress: '127.0.0.1' }));
      expect(audit.keys[audit.values.indexOf(unknownEntry!)]).toBe('127.0.0.1');
      expect(JSON.stringify(audit.values)).not.toContain(typedAsName);
      expect(audit.keys).not.toContain(`${typedAsName}@example.com`);
    });

    it('records a failed sensitive action (solution missing, solution wrong)', async () => {
      await register('vera');
      const token = await openSession('vera', 'phone');
      const remove = (headers: Record<string, string>) => http('DELETE', api('/session'), { json: { session_id: 'phone' }, headers: { authorization: `Bearer ${token}`, ...headers } });
      expectErrorBody(await remove({}), 401, 'P2CORE_SENSITIVE_SOLUTION_REQUIRED');
      expectErrorBody(await remove({ 'x-p2-sensitive-solution': 'guessing the password' }), 403, 'P2CORE_SENSITIVE_SOLUTION_INVALID');
      const entries = await eventually(() => audit.values.filter((e) => e.kind === 'sensitive.failed' && e.actor === 'vera@example.com'), { until: (found) => found.length === 2 });
      expect(entries.map((e) => e.reason).sort()).toEqual(['solution-invalid', 'solution-missing']);
      expect(entries[0]!.route).toBe('/.p2/core/v1/session');
      expect(JSON.stringify(audit.values)).not.toContain('guessing the password');
      expect(JSON.stringify(audit.values)).not.toContain(token);
    });
  });

  describe('GET /metrics', () => {
    it('answers with the named families after traffic, on the gateway and on the certstore', async () => {
      await register('walt');
      expectErrorBody(await http('GET', `${cluster.url}/metrics`), 401, 'P2CORE_UNAUTHORIZED');
      const auth = { authorization: `Bearer ${METRICS_TOKEN}` };
      const gateway = await http('GET', `${cluster.url}/metrics`, { headers: auth });
      expect(gateway.status).toBe(200);
      expect(gateway.headers.get('content-type')).toMatch(/^text\/plain/);
      const registerRoute = { route: '/.p2/core/v1/register', method: 'POST' };
      expect(sample(gateway.text, 'p2_http_requests_total', { ...registerRoute, status: '201', role: 'gateway' })).toBeGreaterThanOrEqual(1);
      expect(sample(gateway.text, 'p2_http_request_duration_seconds_bucket', { ...registerRoute, le: '+Inf' })).toBeGreaterThanOrEqual(1);
      for (const family of ['p2_consumer_lag', 'p2_db_pool_max', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_p99_seconds', 'p2_info']) expect(gateway.text).toContain(`# TYPE ${family} `);
      // certstore figures are not a gateway's
      expect(gateway.text).not.toContain('p2_relay_lag_events');

      const certstoreUrl = await cluster.certstore().getUrl();
      const certstore = await eventually(() => http('GET', `${certstoreUrl.replace('[::1]', '127.0.0.1')}/metrics`, { headers: auth }), { until: (r) => sample(r.text, 'p2_relay_lag_events', { role: 'certstore' }) !== undefined });
      expect(sample(certstore.text, 'p2_commands_total', { type: 'RegisterActor', outcome: 'accepted' })).toBeGreaterThanOrEqual(1);
      expect(sample(certstore.text, 'p2_command_duration_seconds_count', { type: 'RegisterActor' })).toBeGreaterThanOrEqual(1);
      expect(sample(certstore.text, 'p2_command_batch_size_count', { role: 'certstore' })).toBeGreaterThanOrEqual(1);
      expect(sample(certstore.text, 'p2_cache_requests_total', { cache: 'folded-streams', result: 'miss' })).toBeGreaterThanOrEqual(1);
      for (const family of ['p2_consumer_lag', 'p2_projection_rebuild_running', 'p2_db_pool_connections']) expect(certstore.text).toContain(`# TYPE ${family} `);
    });
  });

  describe('liveness and readiness', () => {
    it('answers /healthz/live and /healthz/ready (with every check) apart from /healthz', async () => {
      expect(await http('GET', `${cluster.url}/healthz/live`)).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok' } }));
      const ready = await http('GET', `${cluster.url}/healthz/ready`);
      expect(ready).toEqual(expect.objectContaining({ status: 200, body: { status: 'ok', checks: { kafka: true, postgres: true, 'replies-partition': true } } }));
      const certstore = (await cluster.certstore().getUrl()).replace('[::1]', '127.0.0.1');
      expect((await http('GET', `${certstore}/healthz/ready`)).body).toEqual({ status: 'ok', checks: { kafka: true, postgres: true, 'commands-group': true } });
      expect((await http('GET', `${cluster.url}/healthz`)).status).toBe(200);
    });
  });

  describe('p2ctl', () => {
    it('replays a dead-lettered command once: applied exactly once, however often it is replayed', async () => {
      const probe = new CommandProbe(cluster.topicPrefix);
      await probe.start();
      await db.query(`CREATE FUNCTION p2_ops_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure for %', NEW.stream_id; END $$`);
      await db.query(`CREATE TRIGGER p2_ops_fail BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.stream_id = 'actor-xena@example.com') EXECUTE FUNCTION p2_ops_fail()`);
      let command;
      try {
        command = probe.envelope('RegisterActor', { federationId: 'xena@example.com', localName: 'xena', sealedPasswordHash: sealedPasswordHash(await credentialSealKeyOf(cluster.databaseUrl), 'xena@example.com') });
        await probe.send([command]);
        const reply = await probe.replyFor(command.metadata.messageId as string, 30000);
        expect(reply).toEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'P2CORE_UNAVAILABLE' }) }));
      } finally {
        await db.query('DROP TRIGGER p2_ops_fail ON events');
        await db.query('DROP FUNCTION p2_ops_fail');
        await probe.stop();
      }
      const list = await p2ctl(cluster, ['dlq', 'list']);
      expect(list.code).toBe(0);
      const line = list.out.split('\n').find((l) => l.includes(command.metadata.messageId as string))!;
      expect(line).toMatch(/RegisterActor/);
      const offset = line.split(/\s+/)[0]!;
      const shown = await p2ctl(cluster, ['dlq', 'show', offset]);
      expect(shown.code).toBe(0);
      expect(JSON.parse(shown.out)).toEqual(expect.objectContaining({ reason: expect.stringContaining('injected failure'), command: expect.objectContaining({ data: expect.objectContaining({ sealedPasswordHash: '[redacted]' }) }) }));
      expect(shown.out).not.toContain('sealed1.');

      for (let i = 0; i < 2; i++) {
        const replayed = await p2ctl(cluster, ['dlq', 'replay', offset]);
        expect(replayed).toEqual(expect.objectContaining({ code: 0, out: expect.stringContaining(`replayed RegisterActor ${command.metadata.messageId}: accepted`) }));
      }
      const events = await db.query(`SELECT type FROM events WHERE stream_id = 'actor-xena@example.com'`);
      expect(events.rows).toEqual([{ type: 'ActorRegistered' }]);
      const processed = await db.query(`SELECT count(*)::int AS n FROM processed_commands WHERE command_id = $1`, [command.metadata.messageId]);
      expect(processed.rows[0].n).toBe(1);
      const entries = await eventually(() => audit.values.filter((e) => e.kind === 'operator.action' && e.reason === 'dlq-replay'), { until: (found) => found.length === 2 });
      expect(entries[0]).toEqual(expect.objectContaining({ actor: 'operator:tester', role: 'p2ctl', details: expect.objectContaining({ commandId: command.metadata.messageId, outcome: 'accepted' }) }));
    });

    it('creates an administrator of P2_ADMINS, who can then sign in; refuses names outside P2_ADMINS', async () => {
      expect(await p2ctl(cluster, ['admins', 'create', 'mallory'], { P2_ADMIN_PASSWORD: ADMIN_PASSWORD })).toEqual(expect.objectContaining({ code: 2, err: expect.stringContaining('not named in P2_ADMINS') }));
      const created = await p2ctl(cluster, ['admins', 'create', 'root'], { STDIN: `${ADMIN_PASSWORD}\n` });
      expect(created).toEqual(expect.objectContaining({ code: 0, out: 'created the administrator root@example.com\n' }));
      const token = await openSession('root', 'console', ADMIN_PASSWORD);
      const rotated = await http('PUT', api('/key/server'), { headers: { authorization: `Bearer ${token}`, 'x-p2-sensitive-solution': ADMIN_PASSWORD } });
      expect(rotated.status).toBe(200);
      expect((await auditWhere((e) => e.kind === 'server-key.rotated'))[0]).toEqual(expect.objectContaining({ actor: 'root@example.com', reason: 'routine' }));
      const stored = await db.query(`SELECT password_hash FROM actor_credentials WHERE federation_id = 'root@example.com'`);
      expect(stored.rows[0].password_hash).toMatch(/^scrypt\$/);
      expect(JSON.stringify(audit.values)).not.toContain(ADMIN_PASSWORD);
    });

    it('rotates the server key as operator:<user>', async () => {
      const before = await db.query(`SELECT serial::text FROM server_certs WHERE active_until IS NULL`);
      const rotated = await p2ctl(cluster, ['server-key', 'rotate']);
      expect(rotated).toEqual(expect.objectContaining({ code: 0, out: expect.stringMatching(/^rotated the server key; new root serial \d+\n$/) }));
      const after = await db.query(`SELECT serial::text FROM server_certs WHERE active_until IS NULL`);
      expect(after.rows[0].serial).not.toBe(before.rows[0].serial);
      const event = await db.query(`SELECT data FROM events WHERE type = 'ServerKeyRotated' ORDER BY global_position DESC LIMIT 1`);
      expect(event.rows[0].data).toEqual(expect.objectContaining({ requestedBy: 'operator:tester', compromised: false }));
      expect(await p2ctl(cluster, ['server-key', 'rotate', '--now'])).toEqual(expect.objectContaining({ code: 2 }));
    });

    it('shows an actor: streams and read models, never a secret', async () => {
      await register('yara');
      const token = await openSession('yara', 'desk');
      const phone = await openSession('yara', 'phone');
      await openSession('yara', 'tablet');
      // phone fetched its one item: it waits for the pruner and is no longer the session's to fetch
      expect((await http('GET', api('/events'), { headers: { authorization: `Bearer ${phone}` } })).status).toBe(200);
      const shown = await p2ctl(cluster, ['actor', 'show', 'Yara@Example.com']);
      expect(shown.code).toBe(0);
      expect(shown.out).toMatch(/actor-yara@example\.com\s+6\s+6\s+SessionOpened|actor-yara@example\.com\s+7\s+7\s+IdCertIssued/);
      expect(shown.out).toMatch(/inbox-yara@example\.com#phone\s+1\s+1\s+InboxAcknowledged/);
      expect(shown.out).toMatch(/desk/);
      const inbox = shown.out.slice(shown.out.indexOf('inbox (session_inbox)'));
      expect(inbox).toMatch(/\n\s+desk\s+2\s+2\n/);
      expect(inbox).not.toMatch(/phone/);
      const hash = (await db.query(`SELECT password_hash FROM actor_credentials WHERE federation_id = 'yara@example.com'`)).rows[0].password_hash as string;
      const tokenHash = (await db.query(`SELECT token_hash FROM session_tokens WHERE federation_id = 'yara@example.com'`)).rows[0].token_hash as string;
      for (const secret of [PASSWORD, hash, token, tokenHash]) expect(shown.out).not.toContain(secret);
      expect(await p2ctl(cluster, ['actor', 'show', 'nobody@example.com'])).toEqual(expect.objectContaining({ code: 1, out: 'no actor nobody@example.com on this server\n' }));
    });

    it('prints the consumer-group lag per commands partition and rebuilds the projections', async () => {
      const lag = await p2ctl(cluster, ['lag']);
      expect(lag.code).toBe(0);
      expect(lag.out).toContain(`consumer group ${cluster.topicPrefix}p2-certstore on ${topicNames(cluster.topicPrefix).commands}`);
      expect(lag.out.split('\n').filter((l) => /^\d+\s+\d+\s+\d+\s+\d+$/.test(l))).toHaveLength(4);
      expect(lag.out).toMatch(/dead letters 1\n$/);

      const actorsBefore = (await db.query(`SELECT federation_id FROM actors ORDER BY 1`)).rows;
      const rebuilt = await p2ctl(cluster, ['projections', 'rebuild']);
      expect(rebuilt).toEqual(expect.objectContaining({ code: 0, out: expect.stringMatching(/^rebuilt the read models from \d+ events\n$/) }));
      expect((await db.query(`SELECT federation_id FROM actors ORDER BY 1`)).rows).toEqual(actorsBefore);
      await auditWhere((e) => e.reason === 'projections-rebuild');
    });
  });

  it('answers an unknown p2ctl command with its usage (exit 2)', async () => {
    const res = await p2ctl(cluster, ['frobnicate']);
    expect(res).toEqual(expect.objectContaining({ code: 2, err: expect.stringContaining('usage: npm run p2ctl') }));
    const missing = await runP2ctl(['lag'], { env: {}, out: () => undefined, err: () => undefined, readStdin: async () => '' });
    expect(missing).toBe(2);
  });
});

import { createHash, createHmac, createPrivateKey, hkdfSync, randomBytes, randomInt, scryptSync, sign } from 'node:crypto';
import { Client } from 'pg';
import { requireKeyEncryptionKey, type AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { APP_CONFIG } from '@p2/platform';
import { eventually } from '@p2/testing';
import { uuidShaped } from '../apps/gateway/src/messaging/command-ids';
import { CommandSender } from '../apps/gateway/src/messaging/command-sender.service';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http } from './support/http';
import { opensslCsr } from './support/openssl';
import { CommandProbe } from './support/command-probe';
import { credentialSealKeyOf, sealedPasswordHash, TEST_PASSWORD_HASH } from './support/sealed-credentials';
import { TopicRecords } from './support/topic-records';

/** Secrets stay where they belong (docs/architecture.md#secrets): the gateway holds no
 * key-encryption key, and no session token follows from anything published. */
describe('secrets', () => {
  const password = 'correct horse battery staple';
  let cluster: TestCluster;
  let db: Client;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'secrets' });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    expect((await http('POST', api('/register'), { json: { actor_name: 'sara', auth_payload: { password } } })).status).toBe(201);
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  it("a running gateway's configuration has a token key and no key-encryption key", () => {
    const config = cluster.gatewayApp(0).get<AppConfig>(APP_CONFIG);
    expect(config.tokenKey).toHaveLength(32);
    expect(config.keyEncryptionKey).toBeUndefined();
  });

  it('an Idempotency-Key retry gets the same token, and the token is no HMAC of anything its events publish, even under the KEK', async () => {
    const csr = opensslCsr({ localName: 'sara', domain: 'example.com', sessionId: 'retry' }).csrPem;
    const open = () =>
      http('POST', api('/session/trust'), { json: { actor_name: 'sara', csr, auth_payload: { password } }, headers: { 'idempotency-key': 'open-1' } });
    const first = await open();
    const retry = await open();
    expect(first.status).toBe(201);
    expect(retry.status).toBe(201);
    expect(retry.body.token).toBe(first.body.token);

    const kek = requireKeyEncryptionKey(cluster.config());
    const kekDerived = Buffer.from(hkdfSync('sha256', kek, Buffer.alloc(0), 'p2-session-token-v1', 32));
    const { rows } = await db.query<{ metadata: Record<string, unknown> }>(`SELECT metadata FROM events WHERE type = 'SessionOpened' AND data->>'sessionId' = 'retry'`);
    expect(rows).toHaveLength(1);
    const published = Object.values(rows[0]!.metadata).filter((v): v is string => typeof v === 'string');
    expect(published.length).toBeGreaterThan(0);
    for (const value of published) {
      expect(createHmac('sha256', kekDerived).update(value).digest('base64url')).not.toBe(first.body.token);
      expect(createHmac('sha256', kek).update(value).digest('base64url')).not.toBe(first.body.token);
    }
  });

  it('an identify command published on Kafka does not give away its Idempotency-Key: an offline guess over a small key space finds no id', async () => {
    const { csrPem, keyPem } = opensslCsr({ localName: 'sara', domain: 'example.com', sessionId: 'guess' });
    const opened = await http('POST', api('/session/trust'), { json: { actor_name: 'sara', csr: csrPem, auth_payload: { password } } });
    expect(opened.status).toBe(201);
    const { challenge } = (await http('GET', api('/challenge'))).body as { challenge: string };
    const signature = sign(null, Buffer.from(challenge, 'utf8'), createPrivateKey(keyPem)).toString('hex');
    const idempotencyKey = String(randomInt(10000));
    const identified = await http('POST', api('/session/identify'), {
      json: { completed_challenge: { challenge, signature }, id_cert: opened.body.id_cert },
      headers: { 'idempotency-key': idempotencyKey },
    });
    expect(identified.status).toBe(201);

    const commands = new TopicRecords<{ type: string; data: { challenge?: string }; metadata: { messageId: string } }>(topicNames(cluster.topicPrefix).commands);
    await commands.start();
    let messageId: string;
    try {
      const [command] = await eventually(() => commands.values.filter((c) => c.type === 'IdentifySession' && c.data.challenge === challenge), {
        until: (found) => found.length === 1,
        timeoutMs: 30000,
        what: 'the identify command',
      });
      messageId = command!.metadata.messageId;
    } finally {
      await commands.stop();
    }
    // what a reader of the topic could try: the id as an unkeyed hash of route, actor and every short key
    const route = `session/identify/${challenge}`;
    const unkeyed = (key: string) => uuidShaped(createHash('sha256').update(`${route}\nsara@example.com\n${key}`).digest('hex'));
    const found = Array.from({ length: 10000 }, (_, i) => String(i)).filter((key) => unkeyed(key) === messageId);
    expect(found).toEqual([]);
    // the id is still the one every gateway of the cluster derives for a retry
    expect(cluster.gatewayApp(0).get(CommandSender).commandId(route, 'sara@example.com', idempotencyKey)).toBe(messageId);
  });

  it('no topic (commands, replies, events, dead letters, telemetry, audit) nor the event log or processed commands carries a password hash, a password or a token after register, login with rehash, failed logins, rotation and a poisoned command', async () => {
    const tokens: string[] = [];
    // what a user types wrong: a wrong password, and a password typed into the name field (it passes the name's format)
    const wrongPassword = 'correct horse battery stable';
    const typedAsName = 'sarasecretpassword';
    // a login that replaces a weaker hash (the test clusters hash at N = 2^14) sends the new hash with its command
    const salt = randomBytes(16);
    const legacy = ['scrypt', 8192, 8, 1, salt.toString('base64'), scryptSync(password, salt, 32, { N: 8192, r: 8, p: 1 }).toString('base64')].join('$');
    await db.query('UPDATE actor_credentials SET password_hash = $2 WHERE federation_id = $1', ['sara@example.com', legacy]);
    const csr = opensslCsr({ localName: 'sara', domain: 'example.com', sessionId: 'scan' }).csrPem;
    const opened = await http('POST', api('/session/trust'), { json: { actor_name: 'sara', csr, auth_payload: { password } } });
    expect(opened.status).toBe(201);
    tokens.push(opened.body.token);
    const stored = (await db.query<{ password_hash: string }>('SELECT password_hash FROM actor_credentials WHERE federation_id = $1', ['sara@example.com'])).rows[0]!.password_hash;
    expect(stored).toMatch(/^scrypt\$16384\$8\$1\$/);
    const rotated = await http('POST', api('/session/idcert'), {
      json: { csr: opensslCsr({ localName: 'sara', domain: 'example.com', sessionId: 'scan' }).csrPem },
      headers: { authorization: `Bearer ${opened.body.token}`, 'x-p2-sensitive-solution': password },
    });
    expect(rotated.status).toBe(201);
    tokens.push(rotated.body.token);
    const failed = (actorName: string, typed: string, requestId: string) =>
      http('POST', api('/session/trust'), { json: { actor_name: actorName, csr, auth_payload: { password: typed } }, headers: { 'x-request-id': requestId } });
    expectErrorBody(await failed('sara', wrongPassword, 'scan-wrong-password'), 401, 'P2CORE_INVALID_CREDENTIALS');
    expectErrorBody(await failed(typedAsName, password, 'scan-typed-as-name'), 401, 'P2CORE_INVALID_CREDENTIALS');

    // a RegisterActor that keeps failing (an injected database error) goes to the dead letters with its sealed hash only
    const probe = new CommandProbe(cluster.topicPrefix);
    await probe.start();
    await db.query(`CREATE FUNCTION p2_secrets_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure for %', NEW.stream_id; END $$`);
    await db.query(`CREATE TRIGGER p2_secrets_fail BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.stream_id = 'actor-tom@example.com') EXECUTE FUNCTION p2_secrets_fail()`);
    const poisoned = probe.envelope('RegisterActor', { federationId: 'tom@example.com', localName: 'tom', sealedPasswordHash: sealedPasswordHash(await credentialSealKeyOf(cluster.databaseUrl), 'tom@example.com') });
    const poisonedId = poisoned.metadata.messageId as string;
    try {
      await probe.send([poisoned]);
      expect(await probe.replyFor(poisonedId, 30000)).toEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: 'P2CORE_UNAVAILABLE' }) }));
    } finally {
      await db.query('DROP TRIGGER p2_secrets_fail ON events');
      await db.query('DROP FUNCTION p2_secrets_fail');
      await probe.stop();
    }

    const topics = topicNames(cluster.topicPrefix);
    const tails = Object.values(topics).map((topic) => ({ topic, records: new TopicRecords(topic) }));
    await Promise.all(tails.map((t) => t.records.start()));
    let rehashing: string;
    try {
      const records = (topic: string) => tails.find((t) => t.topic === topic)!.records;
      const text = (topic: string) => JSON.stringify(records(topic).values);
      const shows = (topic: string, what: string, until: (text: string) => boolean) => eventually(() => text(topic), { until, timeoutMs: 30000, what });
      // every tail shows what the scenario put on its topic, so that the scans below look at something
      const commands = await eventually(() => records(topics.commands).values as { type: string; data: Record<string, unknown>; metadata: { messageId: string } }[], {
        until: (all) => all.some((c) => c.type === 'OpenSession' && 'sealedPasswordRehash' in c.data) && all.some((c) => c.metadata.messageId === poisonedId),
        timeoutMs: 30000,
        what: 'the commands of the scenario',
      });
      rehashing = commands.find((c) => c.type === 'OpenSession' && 'sealedPasswordRehash' in c.data)!.metadata.messageId;
      const rotation = commands.find((c) => c.type === 'RotateIdCert' && c.data.sessionId === 'scan')?.metadata.messageId ?? '';
      expect(rotation).not.toBe('');
      await shows(topics.replies, 'the replies of the scenario', (all) => [rehashing, rotation, poisonedId].every((id) => all.includes(id)));
      await shows(topics.deadLetters, 'the poisoned command', (all) => all.includes(poisonedId));
      await shows(topics.events, "the scan session's events", (all) => all.includes(rehashing) && all.includes(rotation));
      await shows(topics.audit, 'the failed logins', (all) => all.includes('scan-wrong-password') && all.includes('scan-typed-as-name'));
      await shows(topics.telemetry, 'snapshots of both roles', (all) => all.includes('"role":"gateway"') && all.includes('"role":"certstore"'));
      await Promise.all(tails.map((t) => t.records.readToEnd()));

      for (const { topic, records } of tails) {
        const all = JSON.stringify(records.values);
        expect({ topic, scrypt: all.includes('scrypt$') }).toEqual({ topic, scrypt: false });
        for (const typed of [password, wrongPassword, typedAsName]) expect({ topic, typed: all.includes(typed) }).toEqual({ topic, typed: false });
        for (const token of tokens) expect({ topic, token: all.includes(token) }).toEqual({ topic, token: false });
        expect(all).not.toContain(TEST_PASSWORD_HASH.split('$')[4]!);
      }
      expect(text(topics.commands)).toContain('sealedPasswordHash');
    } finally {
      await Promise.all(tails.map((t) => t.records.stop()));
    }

    // and where the certstore keeps them: the event log and the recorded outcomes
    const tables = {
      events: (await db.query<{ row: string }>('SELECT concat_ws(\' \', type, data::text, metadata::text) AS row FROM events')).rows.map((r) => r.row).join('\n'),
      processed_commands: (await db.query<{ row: string }>('SELECT concat_ws(\' \', command_id, command_type, outcome::text) AS row FROM processed_commands')).rows.map((r) => r.row).join('\n'),
    };
    expect(tables.events).toContain(rehashing);
    expect(tables.processed_commands).toContain(rehashing);
    for (const [table, all] of Object.entries(tables)) {
      expect({ table, scrypt: all.includes('scrypt$') }).toEqual({ table, scrypt: false });
      for (const typed of [password, wrongPassword, typedAsName]) expect({ table, typed: all.includes(typed) }).toEqual({ table, typed: false });
      for (const token of tokens) expect({ table, token: all.includes(token) }).toEqual({ table, token: false });
    }
  });
});

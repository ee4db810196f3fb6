import { createPublicKey, randomUUID, X509Certificate, type KeyObject } from 'node:crypto';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { Client } from 'pg';
import { HEADER, topicNames, type Reply } from '@p2/contracts';
import { eventually, kafkaBrokers } from '@p2/testing';
import { migrateDatabase } from '../apps/certstore/src/database/migrations';
import { requireKeyEncryptionKey } from '@p2/config';
import { credentialKeyPair } from '@p2/platform';
import { recordCredentialSealKey } from '@p2/read-models';
import { TestCluster } from './support/cluster';
import { credentialSealKeyOf, sealedPasswordHash } from './support/sealed-credentials';
import { bearer, expectErrorBody, http } from './support/http';
import { opensslCsr } from './support/openssl';

/** The command path itself: idempotency of redelivered commands, Idempotency-Key retries, reply
 * deadlines, and poison messages, on the real broker and database. */
describe('command path over Kafka', () => {
  const password = 'correct horse battery staple';

  describe('with a certstore running', () => {
    let cluster: TestCluster;
    let db: Client;
    let kafka: Kafka;
    let replies: Consumer;
    const received: Reply[] = [];
    const replyTo = `e2e-${randomUUID()}`;

    beforeAll(async () => {
      cluster = await TestCluster.start({ label: 'cmdpath', gateways: 1, certstores: 1 });
      db = new Client({ connectionString: cluster.databaseUrl });
      await db.connect();
      kafka = new Kafka({ clientId: 'e2e-command-path', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
      replies = kafka.consumer({ groupId: `e2e-replies-${randomUUID()}` });
      await replies.connect();
      await replies.subscribe({ topic: topicNames(cluster.topicPrefix).replies, fromBeginning: true });
      await replies.run({
        eachMessage: async ({ message }) => {
          if (message.headers?.[HEADER.replyTo]?.toString() === replyTo) received.push(JSON.parse(message.value!.toString()));
        },
      });
    });

    afterAll(async () => {
      await replies?.disconnect();
      await db?.end();
      await cluster?.stop();
    });

    it('answers a redelivered command with its first outcome and appends nothing the second time', async () => {
      const producer = kafka.producer();
      await producer.connect();
      const commandId = randomUUID();
      const command = {
        type: 'RegisterActor',
        data: { federationId: 'grace@example.com', localName: 'grace', sealedPasswordHash: sealedPasswordHash(await credentialSealKeyOf(cluster.databaseUrl), 'grace@example.com') },
        metadata: { messageId: commandId, correlationId: commandId, causationId: commandId, occurredAt: new Date().toISOString(), schemaVersion: 1 },
      };
      const message = { key: 'actor-grace@example.com', value: JSON.stringify(command), headers: { [HEADER.replyTo]: replyTo } };
      await producer.send({ topic: topicNames(cluster.topicPrefix).commands, messages: [message] });
      await eventually(() => received.filter((r) => r.commandId === commandId), { until: (r) => r.length === 1 });
      await producer.send({ topic: topicNames(cluster.topicPrefix).commands, messages: [message] });
      const both = await eventually(() => received.filter((r) => r.commandId === commandId), { until: (r) => r.length === 2 });
      await producer.disconnect();
      expect(both[0]).toEqual({ commandId, ok: true, result: { type: 'ActorRegistered', federationId: 'grace@example.com' } });
      expect(both[1]).toEqual(both[0]);
      const events = await db.query(`SELECT type FROM events WHERE stream_id = 'actor-grace@example.com'`);
      expect(events.rows).toEqual([{ type: 'ActorRegistered' }]);
      const processed = await db.query(`SELECT command_type FROM processed_commands WHERE command_id = $1`, [commandId]);
      expect(processed.rows).toEqual([{ command_type: 'RegisterActor' }]);
    });

    it('gives a retried request with the same Idempotency-Key the first outcome, once', async () => {
      const request = () =>
        http('POST', `${cluster.url}/.p2/core/v1/register`, {
          json: { actor_name: 'heidi', auth_payload: { password } },
          headers: { 'idempotency-key': 'register-heidi-1' },
        });
      const [a, b] = await Promise.all([request(), request()]);
      const c = await request();
      for (const res of [a, b, c]) {
        expect(res.status).toBe(201);
        expect(res.body).toEqual({ fid: 'heidi@example.com' });
      }
      const events = await db.query(`SELECT type FROM events WHERE stream_id = 'actor-heidi@example.com'`);
      expect(events.rows).toHaveLength(1);
      // without the key, the same request is a new command and is refused
      expectErrorBody(await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'heidi', auth_payload: { password } } }), 409, 'P2CORE_FEDERATION_ID_TAKEN');
    });

    it('answers a taken name 409 at once also with an Idempotency-Key: no password hashed, no command sent', async () => {
      const registers = async () => Number((await db.query(`SELECT count(*) AS n FROM processed_commands WHERE command_type = 'RegisterActor'`)).rows[0].n);
      const first = await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'ken', auth_payload: { password } }, headers: { 'idempotency-key': 'ken-1' } });
      expect(first.status).toBe(201);
      const before = await registers();
      for (const key of ['someone-else-1', 'someone-else-2']) {
        expectErrorBody(
          await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'KEN', auth_payload: { password: 'another password' } }, headers: { 'idempotency-key': key } }),
          409,
          'P2CORE_FEDERATION_ID_TAKEN',
        );
      }
      // the retry of the request that took the name still gets its first outcome
      const retried = await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'ken', auth_payload: { password } }, headers: { 'idempotency-key': 'ken-1' } });
      expect({ status: retried.status, body: retried.body }).toEqual({ status: 201, body: { fid: 'ken@example.com' } });
      // the password hash is made just before the command is sent: no command, no hash
      expect(await registers()).toBe(before);
    });

    it('POST /idcert opening a session: two sessions of one actor sending the same key are two commands; a retry by one token gets its first cert and token', async () => {
      const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
      expect((await http('POST', api('/register'), { json: { actor_name: 'mallory', auth_payload: { password } } })).status).toBe(201);
      const trusted = async (sessionId: string): Promise<string> => {
        const res = await http('POST', api('/session/trust'), {
          json: { actor_name: 'mallory', csr: opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId }).csrPem, auth_payload: { password } },
        });
        expect(res.status).toBe(201);
        return res.body.token;
      };
      const phone = await trusted('phone');
      const laptop = await trusted('laptop');
      const phoneCsr = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId: 'tablet' });
      const laptopCsr = opensslCsr({ localName: 'mallory', domain: 'example.com', sessionId: 'tablet' });
      const open = (token: string, csrPem: string) =>
        http('POST', api('/idcert'), { headers: { ...bearer(token), 'x-p2-sensitive-solution': password, 'idempotency-key': 'open-tablet-1' }, body: csrPem });
      const spki = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('hex');

      const first = await open(phone, phoneCsr.csrPem);
      expect(first.status).toBe(201);
      expect(spki(new X509Certificate(first.body.id_cert).publicKey)).toBe(spki(createPublicKey(phoneCsr.keyPem)));
      // the laptop's request is its own command: refused, the tablet session ID being held by the phone's
      // new session; before, it was answered the phone's cert and token (a session keyed to the phone's key)
      expectErrorBody(await open(laptop, laptopCsr.csrPem), 409, 'P2CORE_SESSION_ID_IN_USE');
      const retried = await open(phone, phoneCsr.csrPem);
      expect({ status: retried.status, body: retried.body }).toEqual({ status: 201, body: first.body });
      const opened = await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'SessionOpened' AND data->>'federationId' = 'mallory@example.com' AND data->>'sessionId' = 'tablet'`);
      expect(opened.rows).toEqual([{ n: 1 }]);
    });

    it('sets a poison message aside on the dead-letter topic and keeps the partition moving', async () => {
      const producer = kafka.producer();
      await producer.connect();
      const topics = topicNames(cluster.topicPrefix);
      // every partition gets one, so the next command surely shares a partition with one of them
      await producer.send({
        topic: topics.commands,
        messages: Array.from({ length: 8 }, (_, i) => ({ key: `actor-poison${i}@example.com`, value: '{"not":"an envelope"' })),
      });
      await producer.disconnect();
      const dlq = kafka.consumer({ groupId: `e2e-dlq-${randomUUID()}` });
      const dead: string[] = [];
      await dlq.connect();
      await dlq.subscribe({ topic: topics.deadLetters, fromBeginning: true });
      await dlq.run({ eachMessage: async ({ message }) => void dead.push(message.headers!['dlq-reason']!.toString()) });
      try {
        await eventually(() => dead, { until: (d) => d.length >= 8, timeoutMs: 20000 });
        expect(dead.every((reason) => reason === 'malformed envelope')).toBe(true);
      } finally {
        await dlq.disconnect();
      }
      const res = await http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: 'ivan', auth_payload: { password } } });
      expect(res.status).toBe(201);
    });
  });

  describe('without a certstore', () => {
    let cluster: TestCluster;

    beforeAll(async () => {
      cluster = await TestCluster.start({ label: 'timeout', gateways: 0, certstores: 0, env: { P2_REPLY_TIMEOUT_MS: '1500' } });
      // the certstores are down, not never started: the schema the gateway reads is there, and the
      // gateway's database role
      await migrateDatabase(cluster.databaseUrl, undefined, { gatewayPassword: cluster.config().gatewayDbPassword });
      const db = new Client({ connectionString: cluster.databaseUrl });
      await db.connect();
      await recordCredentialSealKey(db, credentialKeyPair(requireKeyEncryptionKey(cluster.config())).publicKey).finally(() => db.end());
      await cluster.addGateway();
    });

    afterAll(async () => {
      await cluster?.stop();
    });

    it('answers 503 P2CORE_UNAVAILABLE naming the command id when no reply comes in time, and loses nothing', async () => {
      const body = { json: { actor_name: 'judy', auth_payload: { password } }, headers: { 'idempotency-key': 'judy-1' } };
      const started = Date.now();
      const res = await http('POST', `${cluster.url}/.p2/core/v1/register`, body);
      expect(Date.now() - started).toBeLessThan(10000);
      expectErrorBody(res, 503, 'P2CORE_UNAVAILABLE');
      expect(res.body.command_id).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.body.message).toContain(res.body.command_id);

      // the command waited on Kafka: once a certstore runs, it is applied, and the retry gets its outcome
      await cluster.addCertstore();
      const retried = await eventually(() => http('POST', `${cluster.url}/.p2/core/v1/register`, body), {
        until: (r) => r.status === 201,
        timeoutMs: 30000,
      });
      expect(retried.body).toEqual({ fid: 'judy@example.com' });
      const db = new Client({ connectionString: cluster.databaseUrl });
      await db.connect();
      try {
        const events = await db.query(`SELECT 1 FROM events WHERE stream_id = 'actor-judy@example.com'`);
        expect(events.rowCount).toBe(1);
      } finally {
        await db.end();
      }
    });
  });
});

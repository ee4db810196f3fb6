/**
 * Replies and dead letters over what their topic takes (docs/architecture.md#oversized-replies),
 * and the byte budget of a KeyPackage claim (docs/protocol.md#claim-budget), on real Kafka and
 * PostgreSQL.
 * Before: a claim of a few large KeyPackages made a reply the topic refused (MESSAGE_TOO_LARGE);
 * the transaction had committed, the batch was handled again, answered again from
 * processed_commands with the same reply, refused again, forever, and every command of its
 * partition waited behind it (503 to everyone).
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { Kafka, logLevel, ConfigResourceTypes } from 'kafkajs';
import { Client } from 'pg';
import { ERROR_CODE, HEADER, KEY_PACKAGE_LIMITS, PAYLOAD_OMITTED, topicNames } from '@p2/contracts';
import { ProcessMetrics } from '@p2/observability';
import { eventually, kafkaBrokers } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { CommandProbe } from './support/command-probe';
import { expectErrorBody, http, bearer } from './support/http';
import { opensslCsr } from './support/openssl';
import { TopicRecords } from './support/topic-records';

jest.setTimeout(180_000);

/** The replies topic's limit while the stand-in is tested: under one claim of three large packages. */
const SMALL_TOPIC_BYTES = 64 * 1024;

describe('oversized replies and the KeyPackage claim budget', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'oversized-replies-password';
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    // a short reply deadline: before the fix, the commands behind the stalled reply answered 503 after it
    cluster = await TestCluster.start({ label: 'bigreply', repliesTopicConfig: { 'max.message.bytes': String(SMALL_TOPIC_BYTES) }, env: { P2_REPLY_TIMEOUT_MS: '8000' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    for (const name of ['claimer', 'tess', 'nina']) {
      expect((await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password } } })).status).toBe(201);
    }
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  /** A topic's max.message.bytes, as an operator sets it on a running cluster. */
  async function setTopicLimit(topic: string, bytes: number): Promise<void> {
    const admin = new Kafka({ clientId: 'p2-tests', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'max.message.bytes', value: String(bytes) }] }] });
    } finally {
      await admin.disconnect();
    }
  }
  const setRepliesTopicLimit = (bytes: number) => setTopicLimit(topicNames(cluster.topicPrefix).replies, bytes);

  async function openSession(actor: string, sessionId: string): Promise<{ token: string; serial: string }> {
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect(res.status).toBe(201);
    return { token: res.body.token, serial: BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString() };
  }

  /** The largest KeyPackage the format takes (~35 kB): every field at its limit. */
  const largest = () => ({
    protocol_version: 'm'.repeat(KEY_PACKAGE_LIMITS.labelMaxChars),
    cipher_suite: 'c'.repeat(KEY_PACKAGE_LIMITS.labelMaxChars),
    init_key: randomBytes((KEY_PACKAGE_LIMITS.initKeyMaxChars / 4) * 3).toString('base64'),
    leaf_node: randomBytes((KEY_PACKAGE_LIMITS.leafNodeMaxChars / 4) * 3).toString('base64'),
    extensions: 'e'.repeat(KEY_PACKAGE_LIMITS.extensionsMaxChars - 2),
  });

  /** `count` sessions of `actor`, each with one large KeyPackage; their init keys in hand-out (session ID) order. */
  async function sessionsWithLargePackages(actor: string, count: number): Promise<{ initKeys: string[]; token: string }> {
    const initKeys: string[] = [];
    let token = '';
    for (let i = 0; i < count; i++) {
      const session = await openSession(actor, `${actor}${String(i).padStart(2, '0')}`);
      const keyPackage = largest();
      expect((await http('POST', api('/keypackage/@me'), { json: [keyPackage], headers: bearer(session.token) })).status).toBe(201);
      initKeys.push(keyPackage.init_key);
      token = session.token;
    }
    return { initKeys, token };
  }

  const claimedKeys = async (fid: string) =>
    (await db.query<{ init_key: string }>('SELECT init_key FROM key_packages WHERE federation_id = $1 AND claimed_at IS NOT NULL ORDER BY session_id', [fid])).rows.map((r) => r.init_key);

  it('a reply the replies topic refuses is answered with 502 P2CORE_REPLY_TOO_LARGE, and the partition goes on', async () => {
    const claimer = await openSession('claimer', 'claimer-desk');
    const tess = await sessionsWithLargePackages('tess', 3);
    const idempotencyKey = `claim-${randomBytes(4).toString('hex')}`;
    const claim = () => http('GET', api('/keypackage/tess@example.com'), { headers: { ...bearer(claimer.token), 'idempotency-key': idempotencyKey } });

    // three packages of ~35 kB: a reply of ~105 kB, over the topic's 64 KiB
    const refused = await claim();
    expectErrorBody(refused, 502, 'P2CORE_REPLY_TOO_LARGE');
    expect(refused.body.command_id).toEqual(expect.any(String));
    expect(refused.body.message).toContain(refused.body.command_id);
    // the claim was applied once: its packages are consumed
    expect(await claimedKeys('tess@example.com')).toEqual(tess.initKeys);

    // a later command on the same partition (same actor key) is answered: before, it waited behind the refused reply
    const later = await http('POST', api('/keypackage/@me'), { json: [{ ...largest(), extensions: [] }], headers: bearer(tess.token) });
    expect(later.status).toBe(201);

    // a retry with the same Idempotency-Key gets the same answer, and consumes nothing more
    const again = await claim();
    expectErrorBody(again, 502, 'P2CORE_REPLY_TOO_LARGE');
    expect(again.body.command_id).toBe(refused.body.command_id);
    expect(await claimedKeys('tess@example.com')).toEqual(tess.initKeys);

    const exposition = await cluster.certstore(0).get(ProcessMetrics).exposition();
    expect(exposition).toMatch(/^p2_command_payloads_omitted_total\{topic="replies",role="certstore"\} 2$/m);

    // once the operator raises the limit, the same retry gets the packages the claim handed out
    await setRepliesTopicLimit(1024 * 1024);
    try {
      const delivered = await claim();
      expect(delivered.status).toBe(200);
      expect(delivered.body.map((p: { init_key: string }) => p.init_key)).toEqual(tess.initKeys);
    } finally {
      await setRepliesTopicLimit(SMALL_TOPIC_BYTES);
    }
  });

  it('a claim hands out at most KEY_PACKAGE_LIMITS.claimBytes of packages; the sessions past it stay claimable', async () => {
    await setRepliesTopicLimit(1024 * 1024);
    try {
      const claimer = await openSession('claimer', 'claimer-laptop');
      const nina = await sessionsWithLargePackages('nina', 9);
      const claim = () => http('GET', api('/keypackage/nina@example.com'), { headers: bearer(claimer.token) });
      // which of nina's sessions each handed-out package is of (its index in session ID order)
      const sessionsOf = (res: { body: { init_key: string }[] }) => res.body.map((p) => nina.initKeys.indexOf(p.init_key));

      // 7 × ~35 kB fit in 256 KiB; before, all nine went into one reply (and ~31 made one the broker refuses)
      const first = await claim();
      expect(first.status).toBe(200);
      expect(sessionsOf(first)).toEqual([0, 1, 2, 3, 4, 5, 6]);
      expect(Buffer.byteLength(first.text)).toBeLessThanOrEqual(KEY_PACKAGE_LIMITS.claimBytes);
      // the two left out were neither consumed nor lost: the next claim hands them out
      expect(await claimedKeys('nina@example.com')).toEqual(nina.initKeys.slice(0, 7));
      const second = await claim();
      expect(second.status).toBe(200);
      expect(sessionsOf(second)).toEqual([7, 8]);
      const third = await claim();
      expect(third.body).toEqual([]);
      expect(await claimedKeys('nina@example.com')).toEqual(nina.initKeys);
    } finally {
      await setRepliesTopicLimit(SMALL_TOPIC_BYTES);
    }
  });

  it('a dead letter the dead-letter topic refuses goes out without its command, and the partition goes on', async () => {
    const topics = topicNames(cluster.topicPrefix);
    await setTopicLimit(topics.deadLetters, SMALL_TOPIC_BYTES);
    const probe = new CommandProbe(cluster.topicPrefix);
    const deadLetters = new TopicRecords<unknown>(topics.deadLetters);
    try {
      await probe.start();
      await deadLetters.start();
      // an envelope with an empty command id is set aside at once; this one is ~100 kB
      const malformed = probe.envelope('RegisterActor', { blob: 'x'.repeat(100 * 1024) }, '');
      const after = probe.envelope('ClaimKeyPackages', { federationId: 'nobody@example.com', requestedBy: 'claimer@example.com' });
      await probe.send([malformed, after]);
      // before: the dead-letter topic refused it on every pass; the consumer crashed and handled the
      // same batch again, forever, and no later command of the partition was taken
      await eventually(() => deadLetters.values.length, { until: (n) => n === 1, what: 'the dead letter' });
      const notFound = expect.objectContaining({ ok: false, error: expect.objectContaining({ code: ERROR_CODE.actorNotFound }) });
      expect(await probe.replyFor(after.metadata.messageId as string)).toEqual(notFound);
      const later = probe.envelope('ClaimKeyPackages', { federationId: 'nobody@example.com', requestedBy: 'claimer@example.com' });
      await probe.send([later]);
      expect(await probe.replyFor(later.metadata.messageId as string)).toEqual(notFound);
      expect(deadLetters.values).toHaveLength(1);
      const bytes = Buffer.byteLength(JSON.stringify(malformed));
      expect(deadLetters.values[0]).toEqual({ payloadOmitted: { reason: PAYLOAD_OMITTED, bytes } });
      expect(deadLetters.headers[0]).toEqual(expect.objectContaining({ [HEADER.payloadOmitted]: PAYLOAD_OMITTED, 'dlq-reason': 'malformed envelope', 'dlq-origin': expect.stringMatching(/^.+\/0@\d+$/) }));
      const exposition = await cluster.certstore(0).get(ProcessMetrics).exposition();
      expect(exposition).toMatch(/^p2_command_payloads_omitted_total\{topic="dead_letters",role="certstore"\} 1$/m);
    } finally {
      await deadLetters.stop();
      await probe.stop();
    }
  });
});

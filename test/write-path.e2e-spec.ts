import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { AssignerProtocol } from 'kafkajs';
import { Client } from 'pg';
import { ERROR_CODE, type Reply } from '@p2/contracts';
import { ProcessMetrics } from '@p2/observability';
import { INBOX_ORDER_LOCK_KEY } from '@p2/read-models';
import { eventually } from '@p2/testing';
import { buildIdCsr, ed25519SignerFromPrivateKey } from '@p2/polyproto';
import { IdCertIssuer } from '../apps/certstore/src/signing/id-cert-issuer.service';
import { TestCluster } from './support/cluster';
import { CommandProbe, stopWatched, watchCluster } from './support/command-probe';
import { http } from './support/http';
import { sampleSum } from './support/metrics';
import { credentialSealKeyOf, sealedPasswordHash } from './support/sealed-credentials';

/** the certstores' credential key, read once the cluster runs */
let sealKey = '';
const register = (name: string) => ({ federationId: `${name}@example.com`, localName: name, sealedPasswordHash: sealedPasswordHash(sealKey, `${name}@example.com`) });
const ack = (name: string, upTo: unknown) => ({ federationId: `${name}@example.com`, sessionId: 's1', upTo });
const tokenHash = () => randomBytes(32).toString('hex');
const csr = (name: string, sessionId: string) =>
  Buffer.from(buildIdCsr({ signer: ed25519SignerFromPrivateKey(generateKeyPairSync('ed25519').privateKey), federationId: `${name}@example.com`, sessionId }).der).toString('base64');

/** The write path at batch speed, on the real broker and database: commands checked against their
 * contract at the certstore's boundary, one transaction per batch with a savepoint per command,
 * decisions taken before anything is signed, and gateways reading only their own reply partition. */
describe('the write path', () => {
  let cluster: TestCluster;
  let db: Client;
  let probe: CommandProbe;
  const gateways = [`gw-a-${randomBytes(4).toString('hex')}`, `gw-b-${randomBytes(4).toString('hex')}`];

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'writepath', gateways: 0, certstores: 1 });
    sealKey = await credentialSealKeyOf(cluster.databaseUrl);
    await cluster.addGateway({ P2_INSTANCE_ID: gateways[0]!, P2_REPLY_PARTITION: '0' });
    await cluster.addGateway({ P2_INSTANCE_ID: gateways[1]!, P2_REPLY_PARTITION: '1' });
    ({ db, probe } = await watchCluster(cluster));
  });

  afterAll(() => stopWatched({ probe, db, cluster }));

  const eventsOf = async (...streams: string[]) =>
    (await db.query(`SELECT stream_id, stream_position, type, data, transaction_id::text AS tx FROM events WHERE stream_id = ANY($1) ORDER BY stream_id, stream_position`, [streams]))
      .rows as { stream_id: string; stream_position: number; type: string; data: Record<string, unknown>; tx: string }[];
  const dlqSize = () => probe.deadLetterCount();

  it('answers a command outside its contract with a P2CORE_MALFORMED_REQUEST refusal, appends nothing, and keeps the partition moving', async () => {
    const malformed = [
      probe.envelope('AcknowledgeInbox', ack('mallory', '7')), // wrong type
      probe.envelope('RegisterActor', { ...register('mallory'), isAdmin: true }), // unknown field
      probe.envelope('DropAllTables', {}), // unknown type
      probe.envelope('RegisterActor', 'mallory'), // data not an object
      probe.envelope('StoreKeyMaterial', { federationId: 'mallory@example.com', items: [{ serial: '1', keyData: 'a\u0000b', encryptionAlgorithms: [] }] }),
      probe.envelope('OpenSession', { federationId: 'Mallory@Example.com', csr: csr('mallory', 'x'), tokenHash: 'not-a-hash' }),
    ];
    const valid = probe.envelope('RegisterActor', register('trent'));
    await probe.send([...malformed, valid]);

    const replies = await Promise.all(malformed.map((m) => probe.replyFor(m.metadata.messageId as string)));
    for (const reply of replies) expect(reply).toEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: ERROR_CODE.malformedRequest }) }));
    const messages = replies.map((r) => (r.ok ? '' : r.error.message));
    expect(messages[0]).toMatch(/upTo/);
    expect(messages[1]).toMatch(/isAdmin should not exist/);
    expect(messages[2]).toMatch(/unknown command type "DropAllTables"/);
    expect(messages[3]).toMatch(/JSON object/);
    expect(messages[4]).toMatch(/items\.0\.keyData/);
    expect(messages[5]).toMatch(/federationId/);
    expect(messages[5]).toMatch(/tokenHash/);
    expect((await probe.replyFor(valid.metadata.messageId as string)).ok).toBe(true);

    expect(await eventsOf('actor-mallory@example.com', 'inbox-mallory@example.com#s1', 'keymaterial-mallory@example.com')).toEqual([]);
    // refusals are recorded like any outcome, and nothing went to the dead-letter topic
    const recorded = await db.query(`SELECT outcome->>'ok' AS ok FROM processed_commands WHERE command_id = ANY($1)`, [malformed.map((m) => m.metadata.messageId)]);
    expect(recorded.rows).toEqual(malformed.map(() => ({ ok: 'false' })));
    expect(await dlqSize()).toBe(0);
  });

  it('commits a batch in one transaction: accepted commands applied in order, refusals and a conflict undone alone, duplicates answered once', async () => {
    const batch = [
      probe.envelope('RegisterActor', register('alice')),
      probe.envelope('RegisterActor', register('bob')),
      probe.envelope('AcknowledgeInbox', ack('alice', 1)),
      probe.envelope('RegisterActor', register('alice')), // refused: taken by the first command
      probe.envelope('AcknowledgeInbox', ack('alice', 'two')), // refused: malformed
      probe.envelope('AcknowledgeInbox', ack('bob', 1)),
      probe.envelope('AcknowledgeInbox', ack('alice', 2)),
      probe.envelope('EraseEverything', {}), // refused: unknown type
      probe.envelope('AcknowledgeInbox', ack('alice', 2)), // accepted, nothing to record
      probe.envelope('AcknowledgeInbox', ack('carol', 5)), // conflicts with a concurrent writer, then applies
      probe.envelope('AcknowledgeInbox', ack('alice', 3)),
      probe.envelope('AcknowledgeInbox', ack('bob', 2)),
    ];
    const duplicate = batch[2]!; // redelivered within the same batch
    // A concurrent writer holds position 1 of carol's inbox stream (uncommitted) while the batch runs.
    const writer = new Client({ connectionString: cluster.databaseUrl });
    await writer.connect();
    try {
      await writer.query('BEGIN');
      const data = { federationId: 'carol@example.com', sessionId: 's1', upTo: 3, acknowledgedAt: new Date().toISOString() };
      const metadata = probe.envelope('AcknowledgeInbox', data).metadata;
      await writer.query(`INSERT INTO events (stream_id, stream_position, type, data, metadata) VALUES ('inbox-carol@example.com#s1', 1, 'InboxAcknowledged', $1, $2)`, [data, metadata]);
      await probe.send([...batch, duplicate]);
      // the certstore reaches carol's command and waits on the uncommitted position
      await eventually(
        async () => (await db.query(`SELECT count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE NOT l.granted AND a.datname = current_database()`)).rows[0].n as number,
        { until: (n) => n > 0, what: 'a certstore waiting on the concurrent writer' },
      );
      await writer.query('COMMIT');
    } finally {
      await writer.end();
    }

    const replies: Reply[] = [];
    for (const command of batch) replies.push(await probe.replyFor(command.metadata.messageId as string));
    const outcome = (r: Reply) => (r.ok ? r.result : r.error.code);
    expect(replies.map(outcome)).toEqual([
      { type: 'ActorRegistered', federationId: 'alice@example.com' },
      { type: 'ActorRegistered', federationId: 'bob@example.com' },
      { type: 'InboxAcknowledged', upTo: 1 },
      ERROR_CODE.federationIdTaken,
      ERROR_CODE.malformedRequest,
      { type: 'InboxAcknowledged', upTo: 1 },
      { type: 'InboxAcknowledged', upTo: 2 },
      ERROR_CODE.malformedRequest,
      { type: 'InboxAcknowledged', upTo: 2 },
      { type: 'InboxAcknowledged', upTo: 5 },
      { type: 'InboxAcknowledged', upTo: 3 },
      { type: 'InboxAcknowledged', upTo: 2 },
    ]);
    const [first, again] = await probe.repliesTo(duplicate.metadata.messageId as string, 2);
    expect(again).toEqual(first);

    const events = await eventsOf('actor-alice@example.com', 'actor-bob@example.com', 'inbox-alice@example.com#s1', 'inbox-bob@example.com#s1', 'inbox-carol@example.com#s1');
    expect(events.map((e) => [e.stream_id, e.stream_position, e.type === 'InboxAcknowledged' ? e.data.upTo : e.type])).toEqual([
      ['actor-alice@example.com', 1, 'ActorRegistered'],
      ['actor-bob@example.com', 1, 'ActorRegistered'],
      ['inbox-alice@example.com#s1', 1, 1],
      ['inbox-alice@example.com#s1', 2, 2],
      ['inbox-alice@example.com#s1', 3, 3],
      ['inbox-bob@example.com#s1', 1, 1],
      ['inbox-bob@example.com#s1', 2, 2],
      ['inbox-carol@example.com#s1', 1, 3], // the concurrent writer's
      ['inbox-carol@example.com#s1', 2, 5], // decided again on the state that includes it
    ]);
    // group commit: every event of the batch was written by one transaction
    const written = events.filter((e) => !(e.stream_id === 'inbox-carol@example.com#s1' && e.stream_position === 1));
    expect(new Set(written.map((e) => e.tx)).size).toBe(1);
    const processed = await db.query(`SELECT count(*)::int AS n FROM processed_commands WHERE command_id = ANY($1)`, [batch.map((c) => c.metadata.messageId)]);
    expect(processed.rows[0].n).toBe(batch.length);
  });

  it('sets aside a command that keeps failing alone, with a reply, and applies the rest of its batch exactly once', async () => {
    await db.query(`CREATE FUNCTION p2_test_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure for %', NEW.stream_id; END $$`);
    await db.query(`CREATE TRIGGER p2_test_fail BEFORE INSERT ON events FOR EACH ROW WHEN (NEW.stream_id LIKE 'actor-doomed%') EXECUTE FUNCTION p2_test_fail()`);
    try {
      // the failing command in the middle of a batch, then at its end (its writes are the last ones sent)
      for (const names of [['isolde', 'doomed', 'ivo'], ['iris', 'doomed-last']]) {
        const batch = names.map((name) => probe.envelope('RegisterActor', register(name)));
        await probe.send(batch);
        const replies = await Promise.all(batch.map((c) => probe.replyFor(c.metadata.messageId as string, 30000)));
        for (const [i, reply] of replies.entries()) {
          if (!names[i]!.startsWith('doomed')) expect(reply).toEqual(expect.objectContaining({ ok: true }));
          else {
            expect(reply).toEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: ERROR_CODE.unavailable }) }));
            expect((reply as { error: { message: string } }).error.message).toContain(batch[i]!.metadata.messageId as string);
          }
        }
        const events = await eventsOf(...names.map((name) => `actor-${name}@example.com`));
        expect(events.map((e) => e.stream_id)).toEqual(names.filter((name) => !name.startsWith('doomed')).map((name) => `actor-${name}@example.com`));
      }
      expect(await dlqSize()).toBe(2);
    } finally {
      await db.query('DROP TRIGGER p2_test_fail ON events');
      await db.query('DROP FUNCTION p2_test_fail');
    }
  });

  it('sets an envelope with malformed ids aside at once as a malformed envelope, and applies the rest of its batch', async () => {
    const withIds = (name: string, ids: { messageId?: string; correlationId?: string; causationId?: string }) => {
      const envelope = probe.envelope('RegisterActor', register(name));
      Object.assign(envelope.metadata, ids);
      return envelope;
    };
    const before = await dlqSize();
    const metrics = cluster.certstore().get(ProcessMetrics);
    const unreadableDeadLetters = async () => sampleSum(await metrics.exposition(), 'p2_commands_total', { type: 'unreadable', outcome: 'dead_lettered', role: 'certstore' });
    const countedBefore = await unreadableDeadLetters();
    const malformed = [
      // two commands of one empty id: the second was answered with the first's outcome, its write lost
      withIds('ida', { messageId: '' }),
      withIds('idb', { messageId: '' }),
      // PostgreSQL refused these five times each before they were set aside with P2CORE_UNAVAILABLE
      withIds('idc', { messageId: `${randomBytes(8).toString('hex')}\u0000` }),
      withIds('idd', { messageId: randomBytes(4000).toString('hex') }),
      withIds('ide', { correlationId: 'a\ud800b' }),
      withIds('idf', { causationId: 'a\u0000b' }),
    ];
    const valid = probe.envelope('RegisterActor', register('idg'));
    const retried = async () => sampleSum(await metrics.exposition(), 'p2_commands_total', { outcome: 'retried' });
    const retriedBefore = await retried();
    await probe.send([...malformed, valid]);
    expect((await probe.replyFor(valid.metadata.messageId as string)).ok).toBe(true);
    await eventually(dlqSize, { until: (n) => n === before + malformed.length, what: 'the malformed envelopes dead-lettered' });
    // counted where the DLQ alert looks (README#alerts), though they have no type and no reply
    expect(await unreadableDeadLetters()).toBe(countedBefore + malformed.length);
    // at once: no unit retried with back-off
    expect(await retried()).toBe(retriedBefore);
    const names = ['ida', 'idb', 'idc', 'idd', 'ide', 'idf'];
    expect(await eventsOf(...names.map((name) => `actor-${name}@example.com`))).toEqual([]);
    expect((await eventsOf('actor-idg@example.com')).map((e) => e.type)).toEqual(['ActorRegistered']);
  });

  it('decides before signing: a refused OpenSession or rotation costs no signature', async () => {
    const issuer = cluster.certstore().get(IdCertIssuer);
    const send = async (type: string, data: unknown) => {
      const command = probe.envelope(type, data);
      await probe.send([command]);
      return probe.replyFor(command.metadata.messageId as string);
    };
    expect((await send('RegisterActor', register('signe'))).ok).toBe(true);
    const before = issuer.signedCount;
    const opened = await send('OpenSession', { federationId: 'signe@example.com', csr: csr('signe', 'laptop'), tokenHash: tokenHash() });
    expect(opened.ok).toBe(true);
    expect(issuer.signedCount).toBe(before + 1);
    const serial = opened.ok && opened.result.type === 'SessionOpened' ? opened.result.serial : '';

    const refused = [
      await send('OpenSession', { federationId: 'signe@example.com', csr: csr('signe', 'laptop'), tokenHash: tokenHash() }), // session ID in use
      await send('OpenSession', { federationId: 'nobody@example.com', csr: csr('nobody', 'laptop'), tokenHash: tokenHash() }), // no such actor
      await send('RotateIdCert', { federationId: 'signe@example.com', sessionId: 'laptop', currentSerial: '12345', csr: csr('signe', 'laptop'), tokenHash: tokenHash() }),
      await send('RotateIdCert', { federationId: 'signe@example.com', sessionId: 'phone', currentSerial: serial, csr: csr('signe', 'phone'), tokenHash: tokenHash() }),
    ];
    expect(refused.map((r) => (r.ok ? 'accepted' : r.error.code))).toEqual([
      ERROR_CODE.sessionIdInUse,
      ERROR_CODE.actorNotFound,
      ERROR_CODE.sessionNotFound,
      ERROR_CODE.sessionNotFound,
    ]);
    expect(issuer.signedCount).toBe(before + 1);

    const rotated = await send('RotateIdCert', { federationId: 'signe@example.com', sessionId: 'laptop', currentSerial: serial, csr: csr('signe', 'laptop'), tokenHash: tokenHash() });
    expect(rotated.ok).toBe(true);
    expect(issuer.signedCount).toBe(before + 2);
  });

  it('answers a redelivered command that comes first in its batch with its first outcome, before it decides or signs, leaving nothing behind', async () => {
    const issuer = cluster.certstore().get(IdCertIssuer);
    const sendAlone = async (command: ReturnType<CommandProbe['envelope']>, copies: number) => {
      await probe.send([command]);
      return probe.repliesTo(command.metadata.messageId as string, copies);
    };
    const [registered] = await sendAlone(probe.envelope('RegisterActor', register('rita')), 1);
    expect(registered!.ok).toBe(true);
    const open = probe.envelope('OpenSession', { federationId: 'rita@example.com', csr: csr('rita', 'phone'), tokenHash: tokenHash() });
    const [first] = await sendAlone(open, 1);
    expect(first!.ok).toBe(true);
    const signed = issuer.signedCount;
    const events = await eventsOf('actor-rita@example.com', 'inbox-rita@example.com#phone');

    // the same envelope again, alone: the first command of its unit, whose lookup travels with its first read
    const [, again] = await sendAlone(open, 2);
    expect(again).toEqual(first);
    expect(issuer.signedCount).toBe(signed);
    expect(await eventsOf('actor-rita@example.com', 'inbox-rita@example.com#phone')).toEqual(events);

    // a refusal that never reached the database, redelivered: its first outcome, recorded once
    const malformed = probe.envelope('AcknowledgeInbox', ack('rita', 'soon'));
    const [refused] = await sendAlone(malformed, 1);
    const [, refusedAgain] = await sendAlone(malformed, 2);
    expect(refused).toEqual(expect.objectContaining({ ok: false, error: expect.objectContaining({ code: ERROR_CODE.malformedRequest }) }));
    expect(refusedAgain).toEqual(refused);
    const recorded = await db.query(`SELECT count(*)::int AS n FROM processed_commands WHERE command_id = ANY($1)`, [[open.metadata.messageId, malformed.metadata.messageId]]);
    expect(recorded.rows[0].n).toBe(2);
  });

  /** Sends `batch` as one produce request and returns the messages of the unit of work that
   * answered it, each split into its statements: every message the in-process certstore sent to
   * PostgreSQL on that connection from the unit's BEGIN to its COMMIT (statements prepared on first
   * sight aside). */
  const unitOf = async (batch: ReturnType<CommandProbe['envelope']>[]): Promise<{ unit: string[][]; replies: Reply[] }> => {
    const messages: { client: Client; text: string }[] = [];
    const original = Client.prototype.query;
    Client.prototype.query = function (this: Client, ...args: unknown[]) {
      if (typeof args[0] === 'string') messages.push({ client: this, text: args[0] });
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    const replies: Reply[] = [];
    try {
      await probe.send(batch);
      for (const command of batch) replies.push(await probe.replyFor(command.metadata.messageId as string));
    } finally {
      Client.prototype.query = original;
    }
    const ids = batch.map((c) => c.metadata.messageId as string);
    const commit = messages.find((m) => m.text.endsWith('COMMIT') && ids.every((id) => m.text.includes(id)));
    expect(commit).toBeDefined();
    const sent = messages.filter((m) => m.client === commit!.client && !m.text.startsWith('PREPARE'));
    const last = sent.indexOf(commit!);
    return { unit: sent.slice(sent.map((m) => m.text.startsWith('BEGIN;')).lastIndexOf(true, last), last + 1).map((m) => m.text.split(';\n')), replies };
  };
  const kinds = (unit: string[][]) => unit.map((statements) => statements.map((statement) => statement.split(/[ (]/)[0]));

  it('runs a unit of N commands in N + 1 round trips to PostgreSQL: the lookup with the first read, each command\'s writes with the next one\'s read, the last ones with the COMMIT', async () => {
    const batch = [1, 2, 3].map((upTo) => probe.envelope('AcknowledgeInbox', ack('ursula', upTo)));
    const { unit, replies } = await unitOf(batch);
    expect(replies).toEqual(batch.map(() => expect.objectContaining({ ok: true })));
    const ids = batch.map((c) => c.metadata.messageId as string);
    expect(kinds(unit)).toEqual([
      // the lookup, the first command's savepoint and read; before that read, the unit's only
      // change of plan mode (SET LOCAL twice): every statement after the lookup is planOnce
      ['BEGIN', 'EXECUTE', 'SAVEPOINT', 'SET', 'SET', 'EXECUTE'],
      // the first command's writes (the inbox-order lock, its event and read-model rows), the second's savepoint and read
      ['EXECUTE', 'EXECUTE', 'EXECUTE', 'EXECUTE', 'SAVEPOINT', 'EXECUTE'],
      ['EXECUTE', 'EXECUTE', 'EXECUTE', 'EXECUTE', 'SAVEPOINT', 'EXECUTE'],
      ['EXECUTE', 'EXECUTE', 'EXECUTE', 'EXECUTE', 'EXECUTE', 'COMMIT'], // the last command's writes, the processed rows
    ]);
    expect(ids.every((id) => unit[0]![1]!.includes(id))).toBe(true);
    expect(unit[0]!.slice(3, 5)).toEqual(['SET LOCAL plan_cache_mode = force_generic_plan', 'SET LOCAL enable_seqscan = off']);
  });

  it('opens a session and rotates its cert in two round trips each: the root\'s share lock, and the PEM of the cert a rotation invalidates, travel with the stream read', async () => {
    const send = async (type: string, data: unknown) => unitOf([probe.envelope(type, data)]);
    expect((await send('RegisterActor', register('tove'))).replies[0]!.ok).toBe(true);
    const phone = await send('OpenSession', { federationId: 'tove@example.com', csr: csr('tove', 'phone'), tokenHash: tokenHash() });
    expect(phone.replies[0]!.ok).toBe(true);
    const laptop = await send('OpenSession', { federationId: 'tove@example.com', csr: csr('tove', 'laptop'), tokenHash: tokenHash() });
    const opened = laptop.replies[0]!;
    if (!opened.ok || opened.result.type !== 'SessionOpened') throw new Error(`OpenSession failed: ${JSON.stringify(opened)}`);
    const rootLock = 'SELECT serial::text AS serial FROM server_certs WHERE active_until IS NULL FOR SHARE';
    // taken before the root's lock, in every transaction that takes that (docs/architecture.md#rebuild-order)
    const inboxOrderLock = `SELECT pg_advisory_xact_lock_shared(${INBOX_ORDER_LOCK_KEY})`;
    // the lookup, the savepoint, the locks, the stream read; then the writes and the COMMIT
    expect(kinds(laptop.unit)).toEqual([['BEGIN', 'EXECUTE', 'SAVEPOINT', 'SELECT', 'SELECT', 'EXECUTE'], expect.arrayContaining(['COMMIT'])]);
    expect(laptop.unit[0]!.slice(3, 5)).toEqual([inboxOrderLock, rootLock]);

    const rotation = await send('RotateIdCert', { federationId: 'tove@example.com', sessionId: 'laptop', currentSerial: opened.result.serial, csr: csr('tove', 'laptop'), tokenHash: tokenHash() });
    expect(rotation.replies[0]).toEqual(expect.objectContaining({ ok: true }));
    // … and the invalidated cert's PEM, read by serial, before the stream read
    expect(kinds(rotation.unit)).toEqual([['BEGIN', 'EXECUTE', 'SAVEPOINT', 'SELECT', 'SELECT', 'EXECUTE', 'EXECUTE'], expect.arrayContaining(['COMMIT'])]);
    expect(rotation.unit[0]!.slice(3, 5)).toEqual([inboxOrderLock, rootLock]);
    expect(rotation.unit[0]![5]).toMatch(new RegExp(`^EXECUTE \\w+\\('${opened.result.serial}'\\)$`));
    expect(rotation.unit[1]!.at(-1)).toBe('COMMIT');

    // what those reads were for: the phone's notice carries the invalidated cert, and the cert's
    // cache information now says when it ended, signed over that cert
    const notice = await db.query(`SELECT payload FROM session_inbox WHERE federation_id = $1 AND session_id = $2 AND type = 'ACTOR_CERTIFICATE_INVALIDATION'`, [
      'tove@example.com',
      'phone',
    ]);
    expect(notice.rows).toEqual([{ payload: expect.objectContaining({ serial: opened.result.serial, sessionId: 'laptop', idCertPem: opened.result.idCertPem }) }]);
    const windows = await db.query(`SELECT invalidated_at FROM cache_signatures WHERE serial = $1 ORDER BY cache_not_valid_before`, [opened.result.serial]);
    expect(windows.rows.map((r: { invalidated_at: string | null }) => r.invalidated_at !== null)).toEqual([true]);
  });

  it('commits the offsets of the commands it answered, in the background, up to the end of the partition', async () => {
    // one command per batch, each sent once the previous one is answered: kafkajs' auto-commit
    // committed after every batch, on the path; OffsetCommitter commits after them
    const partition = 3;
    for (let i = 0; i < 20; i++) {
      const command = probe.envelope('AcknowledgeInbox', ack(`offsets${i}`, 1));
      await probe.send([command], partition);
      await probe.replyFor(command.metadata.messageId as string);
    }
    const admin = probe.kafka.admin();
    await admin.connect();
    try {
      const end = Number((await admin.fetchTopicOffsets(probe.topics.commands)).find((p) => p.partition === partition)!.high);
      const committed = async () => {
        const [topic] = await admin.fetchOffsets({ groupId: `${cluster.topicPrefix}p2-certstore`, topics: [probe.topics.commands] });
        return Number(topic!.partitions.find((p) => p.partition === partition)!.offset);
      };
      expect(await eventually(committed, { until: (offset) => offset === end, timeoutMs: 10_000, what: `the certstore's committed offset of partition ${partition}` })).toBe(end);
    } finally {
      await admin.disconnect();
    }
  });

  it('lets each gateway read only its own reply partition, where the certstore answers it', async () => {
    const admin = probe.kafka.admin();
    await admin.connect();
    try {
      const groups = gateways.map((id) => `${cluster.topicPrefix}p2-gateway-replies-${id}`);
      const { groups: described } = await admin.describeGroups(groups);
      const assigned = groups.map((group) => {
        const members = described.find((g) => g.groupId === group)!.members;
        return members.map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)!.assignment);
      });
      expect(assigned).toEqual([[{ [probe.topics.replies]: [0] }], [{ [probe.topics.replies]: [1] }]]);
      // a write through each gateway is answered on that gateway's partition, and on no other
      const ends = async () => (await admin.fetchTopicOffsets(probe.topics.replies)).sort((a, b) => a.partition - b.partition).map((p) => Number(p.high));
      for (const [i, url] of cluster.gatewayUrls.entries()) {
        const before = await ends();
        const res = await http('POST', `${url}/.p2/core/v1/register`, { json: { actor_name: `via-${i}`, auth_payload: { password: 'correct horse battery staple' } } });
        expect(res.status).toBe(201);
        expect(await ends()).toEqual(before.map((n, p) => (p === i ? n + 1 : n)));
      }
    } finally {
      await admin.disconnect();
    }
  });
});

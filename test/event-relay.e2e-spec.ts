/**
 * The event relay's election on real PostgreSQL and Kafka, with two certstores: one relays at a
 * time (an advisory lock on a connection of its own), and when that connection is cut (PostgreSQL
 * restarted, an operator's pg_terminate_backend, a network failure) the relay notices on its next
 * pass, the election runs again and still exactly one certstore relays, from the checkpoint in the
 * database (docs/architecture.md#relay).
 */
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { HEADER, PAYLOAD_OMITTED, topicNames, type Message, type MessageMetadata } from '@p2/contracts';
import { PostgresEventStore } from '@p2/event-store';
import { ProcessMetrics } from '@p2/observability';
import { eventually } from '@p2/testing';
import { EventRelayService, RELAY_LOCK_KEY } from '../apps/certstore/src/relay/event-relay.service';
import { TestCluster } from './support/cluster';
import { http } from './support/http';
import { opensslCsr } from './support/openssl';
import { TopicRecords } from './support/topic-records';

jest.setTimeout(120_000);

/** A cluster, a PostgreSQL client on its database and a reader of its events topic. */
async function startRelayCluster(options: Parameters<typeof TestCluster.start>[0]): Promise<{ cluster: TestCluster; db: Client; events: TopicRecords<Message> }> {
  const cluster = await TestCluster.start(options);
  const db = new Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  const events = new TopicRecords<Message>(topicNames(cluster.topicPrefix).events);
  await events.start();
  return { cluster, db, events };
}

/** Waits until the relay's checkpoint is at the end of the log (everything committed is published);
 * the number of events after it, 0. */
function relayCheckpointAtEnd(db: Client): Promise<number> {
  return eventually(
    async () =>
      (
        await db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM events e, relay_checkpoints c
            WHERE c.name = 'events-topic' AND (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)`,
        )
      ).rows[0]!.n,
    { until: (n) => n === 0, what: 'events after the checkpoint', timeoutMs: 20_000 },
  );
}

/** Stops what startRelayCluster started (as far as it got). */
async function stopRelayCluster({ cluster, db, events }: { cluster?: TestCluster; db?: Client; events?: TopicRecords<Message> }): Promise<void> {
  await events?.stop();
  await db?.end();
  await cluster?.stop();
}

describe('the event relay with two certstores', () => {
  let cluster: TestCluster;
  let db: Client;
  let events: TopicRecords<Message>;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;
  const relays = () => [0, 1].map((i) => cluster.certstore(i).get(EventRelayService));
  const activeRelays = () => relays().filter((relay) => relay.isActive).length;

  beforeAll(async () => ({ cluster, db, events } = await startRelayCluster({ label: 'relayelect', certstores: 2 })));
  afterAll(() => stopRelayCluster({ cluster, db, events }));

  /** The backends that hold the relay's lock. */
  async function lockHolders(): Promise<number[]> {
    const { rows } = await db.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND ((classid::bigint << 32) | objid::bigint) = $1`,
      [RELAY_LOCK_KEY],
    );
    return rows.map((r) => r.pid);
  }

  async function register(name: string): Promise<void> {
    const res = await http('POST', api('/register'), { json: { actor_name: name, auth_payload: { password: 'relay-election-password' } } });
    expect(res.status).toBe(201);
  }

  const published = (fid: string) =>
    eventually(() => events.values.filter((e) => e.type === 'ActorRegistered' && (e.data as { federationId?: string }).federationId === fid), {
      until: (found) => found.length > 0,
      what: `ActorRegistered of ${fid} on the events topic`,
      timeoutMs: 20_000,
    });

  const checkpointAtEnd = () => relayCheckpointAtEnd(db);

  it('relays from exactly one certstore, and again from exactly one after its lock connection is cut', async () => {
    await eventually(async () => ({ active: activeRelays(), holders: (await lockHolders()).length }), {
      until: (s) => s.active === 1 && s.holders === 1,
      what: 'one relay elected',
      timeoutMs: 20_000,
    });
    await register('rhea');
    await published('rhea@example.com');
    await checkpointAtEnd();

    const [holder] = await lockHolders();
    const { rows } = await db.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [holder]);
    expect(rows[0]!.ok).toBe(true);

    // a relay that did not notice would keep relaying beside the one elected after it: two active
    await eventually(async () => ({ active: activeRelays(), holders: await lockHolders() }), {
      until: (s) => s.active === 1 && s.holders.length === 1 && s.holders[0] !== holder,
      what: 'one relay elected again, on a new connection',
      timeoutMs: 20_000,
    });

    await register('rufus');
    await published('rufus@example.com');
    await checkpointAtEnd();
    // the relay elected now started at the checkpoint in the database, not at the start of the log
    expect(await published('rhea@example.com')).toHaveLength(1);
  });

  it('publishes a backlog larger than the broker takes in one request, and what follows it', async () => {
    await checkpointAtEnd();
    // the test holds the relay's lock while events pile up, as they do while a relay is away
    const held = new Client({ connectionString: cluster.databaseUrl });
    await held.connect();
    try {
      for (const pid of await lockHolders()) await db.query('SELECT pg_terminate_backend($1)', [pid]);
      await eventually(async () => (await held.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RELAY_LOCK_KEY])).rows[0]!.locked, {
        until: (locked) => locked,
        intervalMs: 5,
        what: 'the relay lock, for the test',
      });
      await register('kara');
      const csr = opensslCsr({ localName: 'kara', domain: 'example.com', sessionId: 'phone' });
      const session = await http('POST', api('/session/trust'), { json: { actor_name: 'kara', csr: csr.csrPem, auth_payload: { password: 'relay-election-password' } } });
      expect(session.status).toBe(201);
      // five uploads of 100 KeyPackages, ~250 kB each: five events of one stream, so of one partition
      const keyPackage = () => ({ protocol_version: 'mls10', cipher_suite: 'X', init_key: randomBytes(32).toString('base64'), leaf_node: randomBytes(1700).toString('base64') });
      for (let i = 0; i < 5; i++) {
        const upload = await http('POST', api('/keypackage/@me'), { json: Array.from({ length: 100 }, keyPackage), headers: { authorization: `Bearer ${session.body.token}` } });
        expect(upload.status).toBe(201);
      }
    } finally {
      await held.end();
    }
    // one request of 1.25 MB before: refused (MESSAGE_TOO_LARGE) on every pass, nothing after it published
    await checkpointAtEnd();
    await register('kurt');
    await published('kurt@example.com');
    expect(events.values.filter((e) => e.type === 'KeyPackagesAdded' && (e.data as { federationId?: string }).federationId === 'kara@example.com')).toHaveLength(5);
  });
});

/** Events over what the events topic takes (docs/architecture.md#oversized-events): a topic of
 * 64 KiB `max.message.bytes`, as an operator may configure it. */
describe('the event relay on an events topic that takes less than one event', () => {
  const TOPIC_MAX_BYTES = 64 * 1024;
  let cluster: TestCluster;
  let db: Client;
  let events: TopicRecords<Message>;
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => ({ cluster, db, events } = await startRelayCluster({ label: 'relaybig', eventsTopicConfig: { 'max.message.bytes': String(TOPIC_MAX_BYTES) } })));
  afterAll(() => stopRelayCluster({ cluster, db, events }));

  const relayed = (messageId: string) =>
    eventually(() => events.values.findIndex((e) => e.metadata.messageId === messageId), {
      until: (i) => i >= 0,
      what: `${messageId} on the events topic`,
      timeoutMs: 20_000,
    });

  /** Appends to the event store directly, as the certstore's command path would commit them. */
  async function append(streamId: string, data: readonly object[]): Promise<string[]> {
    const metadata: MessageMetadata = { messageId: randomBytes(8).toString('hex'), correlationId: 'relay-oversized', causationId: 'relay-oversized', occurredAt: new Date().toISOString(), schemaVersion: 1 };
    const store = cluster.certstore(0).get(PostgresEventStore);
    const appended = await store.transaction(async (tx) => store.append(tx, streamId, 0, data.map((d) => ({ type: 'KeyPackagesAdded', data: d })), metadata));
    return appended.map((e) => `${e.streamId}@${e.streamPosition}`);
  }

  it('publishes an event alone over the limit without its data, and everything after it whole', async () => {
    const fid = `big-${randomBytes(4).toString('hex')}@example.com`;
    const keyPackages = (bytes: number) => ({ federationId: fid, sessionId: 's', serial: '1', keyPackages: [{ leafNode: randomBytes(bytes).toString('base64') }], addedAt: new Date().toISOString() });
    const [big] = await append(`actor-${fid}`, [keyPackages(96 * 1024)]);
    // six of ~27 KiB in one transaction: one produce request of ~160 KiB, which the topic refuses
    // too; these are each under the limit, so they must arrive whole
    const medium = await append(`actor-medium-${fid}`, Array.from({ length: 6 }, () => keyPackages(20 * 1024)));
    const res = await http('POST', api('/register'), { json: { actor_name: 'olga', auth_payload: { password: 'relay-oversized-password' } } });
    expect(res.status).toBe(201);

    // before: the broker refused the big one on every pass, and nothing after it was published
    const at = await relayed(big!);
    const standIn = events.values[at]!;
    expect(standIn.type).toBe('KeyPackagesAdded');
    expect(standIn.metadata.correlationId).toBe('relay-oversized');
    expect(standIn.data).toEqual({ payloadOmitted: { reason: PAYLOAD_OMITTED, bytes: expect.any(Number) } });
    expect((standIn.data as { payloadOmitted: { bytes: number } }).payloadOmitted.bytes).toBeGreaterThan(TOPIC_MAX_BYTES);
    expect(events.keys[at]).toBe(`actor-${fid}`);
    expect(events.headers[at]![HEADER.payloadOmitted]).toBe(PAYLOAD_OMITTED);

    for (const messageId of medium) {
      const record = events.values[await relayed(messageId)]!;
      expect((record.data as { keyPackages: unknown[] }).keyPackages).toHaveLength(1);
      expect(events.headers[events.values.indexOf(record)]![HEADER.payloadOmitted]).toBeUndefined();
    }
    await eventually(() => events.values.some((e) => e.type === 'ActorRegistered' && (e.data as { federationId?: string }).federationId === 'olga@example.com'), {
      until: (found) => found,
      what: 'ActorRegistered of olga after the oversized event',
      timeoutMs: 20_000,
    });
    // only the big one was replaced
    expect(events.values.filter((e) => 'payloadOmitted' in (e.data as object))).toHaveLength(1);

    expect(await relayCheckpointAtEnd(db)).toBe(0);
    expect(await cluster.certstore(0).get(ProcessMetrics).exposition()).toMatch(/^p2_relay_payloads_omitted_total\{type="KeyPackagesAdded",role="certstore"\} 1$/m);
  });
});

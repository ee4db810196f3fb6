import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { actorStream, topicNames } from '@p2/contracts';
import { partitionOfKey, type KafkaCommandTransport } from '@p2/messaging';
import { eventually, kafkaBrokers } from '@p2/testing';
import { COMMAND_TRANSPORT } from '../apps/certstore/src/messaging/command-transport.provider';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http, type HttpResult } from './support/http';

/** docs/architecture.md#certstore-failover: a certstore leaving mid-load loses nothing and applies nothing
 * twice; its partitions move to the survivor, and clients retrying with their Idempotency-Key get
 * the first outcome. */
describe('a certstore stopping mid-load (2 gateways, 2 certstores)', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const COUNT = 40; // even: two halves

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'failover', gateways: 2, certstores: 2, env: { P2_REPLY_TIMEOUT_MS: '3000' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  const register = (i: number): Promise<HttpResult> =>
    http('POST', `${cluster.gatewayUrls[i % 2]}/.p2/core/v1/register`, {
      json: { actor_name: `load-${i}`, auth_payload: { password } },
      headers: { 'idempotency-key': `register-load-${i}` },
    });

  /** How many partitions the commands topic has: what the gateways' partitioner spreads keys over. */
  async function commandPartitions(): Promise<number> {
    const admin = new Kafka({ clientId: 'e2e-failover', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const topic = topicNames(cluster.topicPrefix).commands;
      return (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.length;
    } finally {
      await admin.disconnect();
    }
  }

  it('every accepted registration is in the log exactly once, and every retry gets its first outcome', async () => {
    const partitions = await commandPartitions();
    const registered = async () => (await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'ActorRegistered' AND stream_id LIKE 'actor-load-%'`)).rows[0].n as number;
    // The load runs across the stop: half of it is sent at once and the stop begins while it is
    // being handled; the other half once the stopping certstore's consumer has stopped, so that some
    // commands provably reach its partitions after it can no longer take them. (A single burst was
    // often over before the graceful stop reached the consumer, and then showed no failover at all.)
    const first = Array.from({ length: COUNT / 2 }, (_, i) => register(i));
    await eventually(registered, { until: (n) => n >= 3, timeoutMs: 30000, intervalMs: 10 });
    const transport = cluster.certstore(0).get<symbol, KafkaCommandTransport<unknown>>(COMMAND_TRANSPORT);
    const stopping = transport.assignedPartitions ?? [];
    expect(stopping.length).toBeGreaterThan(0);
    const closing = cluster.stopCertstore(0);
    // its consumer stops after the batch in hand, before the app has closed: from then on only the
    // survivor writes, so a command processed in a transaction that starts later is the survivor's
    await eventually(async () => transport.assignedPartitions, { until: (assigned) => assigned === undefined, timeoutMs: 30000, intervalMs: 5 });
    const stoppedAt = (await db.query(`SELECT clock_timestamp() AS t`)).rows[0].t as Date;
    const second = Array.from({ length: COUNT / 2 }, (_, i) => register(COUNT / 2 + i));
    await closing;
    const answers = await Promise.all([...first, ...second]);
    // a request the stopping certstore could not answer in time is a 503 (the gateway's missed
    // reply deadline, with the error body), never a 5xx of another kind
    for (const answer of answers) {
      if (answer.status === 503) expectErrorBody(answer, 503, 'P2CORE_UNAVAILABLE');
      else expect(answer.status).toBe(201);
    }

    for (let i = 0; i < COUNT; i++) {
      if (answers[i]!.status === 201) continue;
      const retried = await eventually(() => register(i), { until: (r) => r.status === 201, timeoutMs: 30000 });
      expect(retried.body).toEqual({ fid: `load-${i}@example.com` });
    }
    // a retry of a request that did succeed gets the same answer again, and appends nothing
    expect((await register(0)).body).toEqual({ fid: 'load-0@example.com' });

    const perActor = await db.query(
      `SELECT stream_id, count(*)::int AS n FROM events WHERE type = 'ActorRegistered' AND stream_id LIKE 'actor-load-%' GROUP BY stream_id`,
    );
    expect(perActor.rows).toHaveLength(COUNT);
    expect(perActor.rows.every((r) => r.n === 1)).toBe(true);
    const actors = await db.query(`SELECT count(*)::int AS n FROM actors WHERE local_name LIKE 'load-%'`);
    expect(actors.rows[0].n).toBe(COUNT);

    // the survivor took over the stopped certstore's partitions: it processed registrations keyed to them
    const processedLater = await db.query(
      `SELECT outcome FROM processed_commands WHERE command_type = 'RegisterActor' AND processed_at > $1`,
      [stoppedAt],
    );
    const fids = processedLater.rows.map((r) => (r.outcome as { result?: { federationId?: string } }).result?.federationId);
    expect(fids.every((fid) => fid?.startsWith('load-'))).toBe(true);
    expect(fids.filter((fid) => stopping.includes(partitionOfKey(actorStream(fid!), partitions)))).not.toEqual([]);
  });
});

import { Client } from 'pg';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { expectErrorBody, http } from './support/http';
import { ownBrokerScript } from './support/own-broker';

const PORT = Number(process.env.KAFKA_RESTART_TEST_PORT ?? 19492);

/** Starts or stops a broker of this test's own (the shared test broker is never touched). */
function kafka(command: 'start' | 'stop', ...args: string[]): void {
  ownBrokerScript(PORT, command, { P2_COMMAND_PARTITIONS: '4', P2_EVENT_PARTITIONS: '4', P2_REPLY_PARTITIONS: '2' }, ...args);
}

/** docs/architecture.md#kafka-down: while Kafka is down, writes fail fast with 503 (never hang,
 * never 500) and reads keep working; once it is back, the apps recover by themselves and a retry
 * with the same Idempotency-Key is applied exactly once. */
describe('Kafka going away and coming back (own broker)', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const register = (name: string, key: string) =>
    http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password } }, headers: { 'idempotency-key': key } });

  beforeAll(async () => {
    kafka('start');
    cluster = await TestCluster.start({
      label: 'kafkarestart',
      env: { KAFKA_BROKERS: `127.0.0.1:${PORT}`, P2_KAFKA_TOPIC_PREFIX: '', P2_REPLY_TIMEOUT_MS: '2000' },
    });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
    // a broker's start takes minutes on a machine shared with other work
  }, 240_000);

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
    kafka('stop', '--purge');
  });

  it('answers 503 while the broker is down, keeps serving reads, and recovers without a restart', async () => {
    // the first command of a fresh cluster may miss the short deadline while the groups settle
    const before = await eventually(() => register('before', 'before-1'), { until: (r) => r.status === 201, timeoutMs: 60_000, intervalMs: 500 });
    expect(before.status).toBe(201);
    kafka('stop');

    const started = Date.now();
    const down = await register('during', 'during-1');
    expect(Date.now() - started).toBeLessThan(15_000);
    expectErrorBody(down, 503, 'P2CORE_UNAVAILABLE');
    // reads come from PostgreSQL and do not need Kafka
    expect((await http('GET', `${cluster.url}/.p2/core/v1/idcert/server`)).status).toBe(200);
    // both apps say why they cannot serve: the health body and the readiness checks name Kafka, and
    // only Kafka (an operator looks there, not at PostgreSQL)
    const certstore = (await cluster.certstore().getUrl()).replace('[::1]', '127.0.0.1');
    const kafkaDown = { status: 'down', message: 'brokers do not answer' };
    for (const url of [cluster.url, certstore]) {
      const health = await http('GET', `${url}/healthz`);
      expect({ url, status: health.status, body: health.body }).toEqual({
        url,
        status: 503,
        body: { status: 'error', info: { postgres: { status: 'up' } }, error: { kafka: kafkaDown }, details: { postgres: { status: 'up' }, kafka: kafkaDown } },
      });
    }
    // the consumer's own check may not have seen the broker go yet: either answer is right for it
    const gatewayReady = await http('GET', `${cluster.url}/healthz/ready`);
    expect(gatewayReady).toEqual(
      expect.objectContaining({ status: 503, body: { status: 'unavailable', checks: { kafka: false, postgres: true, 'replies-partition': expect.any(Boolean) } } }),
    );
    const certstoreReady = await http('GET', `${certstore}/healthz/ready`);
    expect(certstoreReady).toEqual(
      expect.objectContaining({ status: 503, body: { status: 'unavailable', checks: { kafka: false, postgres: true, 'commands-group': expect.any(Boolean) } } }),
    );

    kafka('start');
    const retried = await eventually(() => register('during', 'during-1'), { until: (r) => r.status === 201, timeoutMs: 90_000, intervalMs: 500 });
    expect(retried.body).toEqual({ fid: 'during@example.com' });
    // as at the start, the groups may still be settling after the broker's return and a command miss
    // the short deadline; the client's retry with the same key is answered, applied once (the rows below)
    const after = await eventually(() => register('after', 'after-1'), { until: (r) => r.status === 201, timeoutMs: 60_000, intervalMs: 500 });
    expect(after.body).toEqual({ fid: 'after@example.com' });
    await eventually(() => http('GET', `${cluster.url}/healthz`), { until: (r) => r.status === 200, timeoutMs: 30_000 });
    const ready = await eventually(() => http('GET', `${cluster.url}/healthz/ready`), { until: (r) => r.status === 200, timeoutMs: 30_000 });
    expect(ready.body).toEqual({ status: 'ok', checks: { kafka: true, postgres: true, 'replies-partition': true } });
    const events = await db.query(`SELECT stream_id FROM events WHERE type = 'ActorRegistered' ORDER BY stream_id`);
    expect(events.rows.map((r) => r.stream_id)).toEqual(['actor-after@example.com', 'actor-before@example.com', 'actor-during@example.com']);
  });
});

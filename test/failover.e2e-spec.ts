import { Client } from 'pg';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { http, type HttpResult } from './support/http';

/** docs/architecture.md#certstore-failover: a certstore leaving mid-load loses nothing and applies nothing
 * twice; its partitions move to the survivor, and clients retrying with their Idempotency-Key get
 * the first outcome. */
describe('a certstore stopping mid-load (2 gateways, 2 certstores)', () => {
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const COUNT = 40;

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

  it('every accepted registration is in the log exactly once, and every retry gets its first outcome', async () => {
    const first = Array.from({ length: COUNT }, (_, i) => register(i));
    // stop one certstore while the burst is being handled
    await eventually(async () => (await db.query(`SELECT count(*)::int AS n FROM events WHERE type = 'ActorRegistered'`)).rows[0].n as number, {
      until: (n) => n >= 3,
      timeoutMs: 30000,
      intervalMs: 10,
    });
    await cluster.stopCertstore(0);
    const answers = await Promise.all(first);
    // a request the stopping certstore could not answer in time is a 503, never a 5xx of another kind
    for (const answer of answers) expect([201, 503]).toContain(answer.status);

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
  });
});

import { Client } from 'pg';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { http } from './support/http';

/** docs/architecture.md#postgres-down: a PostgreSQL connection cut while a certstore holds it for a
 * batch transaction (pg_terminate_backend, a PostgreSQL restart) fails that batch, which is held and
 * run again; the process lives on. The pool listens for errors only on its idle connections, so an
 * unheard 'error' of the checked-out one would end the whole process. */
describe('a certstore whose batch connection is cut mid-transaction', () => {
  let cluster: TestCluster;
  let db: Client;
  let locker: Client;
  const password = 'correct horse battery staple';
  const register = (name: string) => http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password } }, headers: { 'idempotency-key': `register-${name}` } });

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'pgcut' });
    db = new Client({ connectionString: cluster.databaseUrl });
    locker = new Client({ connectionString: cluster.databaseUrl });
    await Promise.all([db.connect(), locker.connect()]);
  });

  afterAll(async () => {
    await locker?.end().catch(() => undefined);
    await db?.end();
    await cluster?.stop();
  });

  it('stays alive and applies the batch once the database answers again; the next write succeeds', async () => {
    // The batch of a registration writes the password hash into actor_credentials in its
    // transaction: with that table locked here, the certstore's backend waits inside the batch,
    // its connection checked out of the pool.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE actor_credentials IN ACCESS EXCLUSIVE MODE');
    const answer = register('alice');
    const waiting = await eventually(
      async () => (await db.query(`SELECT pid FROM pg_locks WHERE relation = 'actor_credentials'::regclass AND NOT granted`)).rows.map((r) => r.pid as number),
      { until: (pids) => pids.length === 1, timeoutMs: 30000, what: 'the certstore backend waiting for actor_credentials' },
    );
    const terminated = await db.query(`SELECT pg_terminate_backend($1) AS ok`, [waiting[0]]);
    expect(terminated.rows[0].ok).toBe(true);
    await locker.query('ROLLBACK');

    // the cut batch is held and run again on a new connection; its client is answered in time or, with a 503, on a retry
    const first = await answer;
    expect([201, 503]).toContain(first.status);
    const registered = await eventually(() => register('alice'), { until: (r) => r.status === 201, timeoutMs: 30000, what: 'alice registered' });
    expect(registered.body).toEqual({ fid: 'alice@example.com' });
    expect((await db.query(`SELECT type FROM events WHERE stream_id = 'actor-alice@example.com'`)).rows).toEqual([{ type: 'ActorRegistered' }]);

    // the same certstore (the only one) is alive: healthy, and it takes the next write
    const health = await http('GET', `${(await cluster.certstore(0).getUrl()).replace('[::1]', '127.0.0.1')}/healthz`);
    expect(health.status).toBe(200);
    expect((await register('bob')).status).toBe(201);
  });
});

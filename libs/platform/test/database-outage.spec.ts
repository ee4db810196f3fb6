import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '@p2/testing';
import { dataSourceOptions, isDatabaseBusy, isDatabaseUnavailable } from '../src';
import { freePorts } from '../../../test/support/ports';

/** What node-postgres and TypeORM really throw, told apart on the suite's PostgreSQL server: a
 * server that is away or goes away is unavailable; a wrong statement is not. */
describe('isDatabaseUnavailable and isDatabaseBusy', () => {
  let db: { url: string; drop(): Promise<void> };

  beforeAll(async () => {
    db = await createTestDatabase('outage');
  });

  afterAll(async () => {
    await db?.drop();
  });

  const failure = async (work: () => Promise<unknown>): Promise<unknown> => {
    try {
      await work();
    } catch (error) {
      return error;
    }
    throw new Error('expected a failure');
  };

  it('a server nobody listens on is unavailable (pg and TypeORM)', async () => {
    const [port] = await freePorts(1);
    const url = new URL(db.url);
    url.port = String(port);
    const client = new Client({ connectionString: url.toString() });
    expect(isDatabaseUnavailable(await failure(() => client.connect()))).toBe(true);
    const dataSource = new DataSource(dataSourceOptions(url.toString()));
    expect(isDatabaseUnavailable(await failure(() => dataSource.initialize()))).toBe(true);
  });

  it('a connection the server ends (shutdown, restart) is unavailable; a wrong statement or value is not', async () => {
    const dataSource = new DataSource(dataSourceOptions(db.url));
    await dataSource.initialize();
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      expect(isDatabaseUnavailable(await failure(() => dataSource.query('SELECT * FROM no_such_table')))).toBe(false);
      expect(isDatabaseUnavailable(await failure(() => dataSource.query('SELECT 1 / 0')))).toBe(false);
      expect(isDatabaseUnavailable(await failure(() => dataSource.query(`SELECT $1::int`, ['seven'])))).toBe(false);
      for (const wrong of ['SELECT * FROM no_such_table', 'SELECT 1 / 0']) expect(isDatabaseBusy(await failure(() => dataSource.query(wrong)))).toBe(false);
      // what a fast shutdown does to every backend: 57P01 admin_shutdown
      const runner = dataSource.createQueryRunner();
      await runner.connect();
      const [{ pid }] = (await runner.query('SELECT pg_backend_pid() AS pid')) as { pid: number }[];
      // its failure is caught from the start: it may come before the terminating query returns
      const outcome = failure(() => runner.query('SELECT pg_sleep(30)'));
      await admin.query('SELECT pg_terminate_backend($1)', [pid]);
      expect(isDatabaseUnavailable(await outcome)).toBe(true);
      await runner.release().catch(() => undefined);
    } finally {
      await admin.end();
      await dataSource.destroy();
    }
  });

  it('a statement cancelled by its statement_timeout, or refused a lock by lock_timeout, while another transaction holds the table is busy, not unavailable', async () => {
    const dataSource = new DataSource(dataSourceOptions(db.url, { extra: { max: 1, statement_timeout: 300 } }));
    await dataSource.initialize();
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('CREATE TABLE held (id int)');
      // what a projection rebuild's TRUNCATE takes, for its whole transaction
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
      const timedOut = await failure(() => dataSource.query('SELECT * FROM held'));
      expect(timedOut).toEqual(expect.objectContaining({ code: '57014' }));
      expect(isDatabaseBusy(timedOut)).toBe(true);
      expect(isDatabaseUnavailable(timedOut)).toBe(false);
      const refused = await failure(() => dataSource.transaction(async (manager) => {
        await manager.query(`SET LOCAL lock_timeout = '50ms'`);
        await manager.query('SELECT * FROM held');
      }));
      expect(refused).toEqual(expect.objectContaining({ code: '55P03' }));
      expect(isDatabaseBusy(refused)).toBe(true);
      // wrapped the way the certstore wraps a statement's failure
      expect(isDatabaseBusy(new Error('wrapped', { cause: timedOut }))).toBe(true);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
      await dataSource.destroy();
    }
  });

  it("the transaction PostgreSQL ends to break a deadlock is busy: the other one went through", async () => {
    const [first, second] = [new Client({ connectionString: db.url }), new Client({ connectionString: db.url })];
    await Promise.all([first.connect(), second.connect()]);
    try {
      await Promise.all([first.query('BEGIN'), second.query('BEGIN')]);
      await first.query('SELECT pg_advisory_xact_lock(1)');
      await second.query('SELECT pg_advisory_xact_lock(2)');
      // each now waits for the other's lock: one of the two is cancelled after deadlock_timeout
      const outcomes = await Promise.allSettled([first.query('SELECT pg_advisory_xact_lock(2)'), second.query('SELECT pg_advisory_xact_lock(1)')]);
      const ended = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason as unknown);
      expect(ended).toEqual([expect.objectContaining({ code: '40P01' })]);
      expect(isDatabaseBusy(ended[0])).toBe(true);
      expect(isDatabaseUnavailable(ended[0])).toBe(false);
    } finally {
      await Promise.all([first.query('ROLLBACK').catch(() => undefined), second.query('ROLLBACK').catch(() => undefined)]);
      await Promise.all([first.end(), second.end()]);
    }
  });
});

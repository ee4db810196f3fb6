import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase } from '@p2/testing';
import { dataSourceOptions, isDatabaseUnavailable } from '../src';
import { freePorts } from '../../../test/support/ports';

/** What node-postgres and TypeORM really throw, told apart on the suite's PostgreSQL server: a
 * server that is away or goes away is unavailable; a wrong statement is not. */
describe('isDatabaseUnavailable', () => {
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
});

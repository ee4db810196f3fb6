import { Client } from 'pg';
import { TestClock } from '@p2/testing';
import { ProcessedCommandsPruner } from '../apps/certstore/src/retention/processed-commands-pruner.service';
import { TestCluster } from './support/cluster';
import { http } from './support/http';

/** The idempotency records of processed commands are deleted once older than
 * P2_PROCESSED_COMMANDS_RETENTION_HOURS on the certstore's clock, and kept until then. */
describe('retention of processed commands', () => {
  const clock = new TestClock();
  let cluster: TestCluster;
  let db: Client;
  const password = 'correct horse battery staple';
  const register = (name: string) => http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password } }, headers: { 'idempotency-key': `${name}-1` } });
  const records = async () =>
    (await db.query(`SELECT outcome->'result'->>'federationId' AS fid FROM processed_commands WHERE command_type = 'RegisterActor' ORDER BY processed_at`)).rows.map((r) => r.fid as string);

  beforeAll(async () => {
    clock.freeze();
    cluster = await TestCluster.start({ label: 'retention', clock, env: { P2_PROCESSED_COMMANDS_RETENTION_HOURS: '1' } });
    db = new Client({ connectionString: cluster.databaseUrl });
    await db.connect();
  });

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  });

  it('deletes records past the retention window and keeps the younger ones', async () => {
    const pruner = cluster.certstore(0).get(ProcessedCommandsPruner);
    expect((await register('early')).status).toBe(201);
    clock.advance(40 * 60_000);
    expect((await register('later')).status).toBe(201);
    expect(await records()).toEqual(['early@example.com', 'later@example.com']);

    clock.advance(30 * 60_000); // early is 70 minutes old, later 30
    expect(await pruner.prune()).toBeGreaterThanOrEqual(1);
    expect(await records()).toEqual(['later@example.com']);

    clock.advance(31 * 60_000);
    await pruner.prune();
    expect(await records()).toEqual([]);
    // the actors stay; only the records that answered duplicates are gone
    expect((await db.query(`SELECT count(*)::int AS n FROM actors`)).rows[0].n).toBe(2);
  });
});

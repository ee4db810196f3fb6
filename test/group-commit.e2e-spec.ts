import { DataSource } from 'typeorm';
import { createTestDatabase } from '@p2/testing';
import { dataSourceOptions, systemClock } from '@p2/platform';
import { ProcessMetrics } from '@p2/observability';
import type { Message } from '@p2/contracts';
import { GroupCommit } from '../apps/certstore/src/application/group-commit';
import type { CommandContext } from '../apps/certstore/src/application/command-context';
import { MIGRATIONS } from '../apps/certstore/src/database/migrations';

const command = (id: string): Message => ({
  type: 'Probe',
  data: {},
  metadata: { messageId: id, correlationId: id, causationId: id, occurredAt: new Date().toISOString(), schemaVersion: 1 },
});

/** The certstore's group commit on a real PostgreSQL (a database of its own), driven directly
 * with commands whose handlers run the statements a test needs. */
describe('GroupCommit', () => {
  let db: { url: string; drop(): Promise<void> };
  let dataSource: DataSource;
  let groupCommit: GroupCommit;

  beforeAll(async () => {
    db = await createTestDatabase('groupcommit');
    dataSource = new DataSource(dataSourceOptions(db.url, { migrations: MIGRATIONS }));
    await dataSource.initialize();
    await dataSource.runMigrations();
    groupCommit = new GroupCommit(dataSource, systemClock, new ProcessMetrics('certstore', 'test', 'test'));
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  const processed = async (ids: string[]) =>
    ((await dataSource.query('SELECT command_id FROM processed_commands WHERE command_id = ANY($1) ORDER BY command_id', [ids])) as { command_id: string }[]).map((r) => r.command_id);

  it('fails a batch with the error PostgreSQL gave, even when that message never began the transaction', async () => {
    // The batch's first message carries BEGIN, the idempotency lookup, the savepoint and this
    // statement; PostgreSQL refuses a message it cannot parse whole, so none of them ran and the
    // rollback to the savepoint fails as well. The batch must fail with the first error.
    const dispatch = async (_: Message, ctx: CommandContext) => ctx.db.query('SELEC 1');
    await expect(groupCommit.run([command('gc-syntax-1')], dispatch)).rejects.toThrow(/syntax error at or near "SELEC"/);
    expect(await processed(['gc-syntax-1'])).toEqual([]);
  });

  it('fails a batch with the error of a later command whose message PostgreSQL refused whole, and records nothing', async () => {
    let calls = 0;
    const dispatch = async (_: Message, ctx: CommandContext) => {
      calls++;
      if (calls === 1) return ctx.db.query('SELECT 1 AS one');
      return ctx.db.query('SELEC 2');
    };
    await expect(groupCommit.run([command('gc-syntax-2a'), command('gc-syntax-2b')], dispatch)).rejects.toThrow(/syntax error at or near "SELEC"/);
    expect(await processed(['gc-syntax-2a', 'gc-syntax-2b'])).toEqual([]);
  });

  it('still commits a batch whose commands all went through, each recorded once', async () => {
    const dispatch = async (_: Message, ctx: CommandContext) => ctx.db.query('SELECT 1 AS one');
    const replies = await groupCommit.run([command('gc-ok-1'), command('gc-ok-2')], dispatch);
    expect(replies.map((r) => [r.commandId, r.ok])).toEqual([
      ['gc-ok-1', true],
      ['gc-ok-2', true],
    ]);
    expect(await processed(['gc-ok-1', 'gc-ok-2'])).toEqual(['gc-ok-1', 'gc-ok-2']);
  });
});

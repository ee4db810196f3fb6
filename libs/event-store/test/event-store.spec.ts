import { DataSource } from 'typeorm';
import { createTestDatabase, eventually } from '@p2/testing';
import { dataSourceOptions } from '@p2/platform';
import type { MessageMetadata } from '@p2/contracts';
import { ConcurrencyError, LOG_START, PostgresEventStore, ProcessedCommands, UniqueViolationError, checkpointOf } from '../src';
import { MIGRATIONS } from '../../../apps/certstore/src/database/migrations';

const metadata: MessageMetadata = { messageId: 'm', correlationId: 'c', causationId: 'c', occurredAt: new Date(0).toISOString(), schemaVersion: 1 };

/** Integration tests on a real PostgreSQL (a database of their own). */
describe('PostgresEventStore', () => {
  let db: { url: string; drop(): Promise<void> };
  let dataSource: DataSource;
  let store: PostgresEventStore;

  beforeAll(async () => {
    db = await createTestDatabase('eventstore');
    dataSource = new DataSource(dataSourceOptions(db.url, { migrations: MIGRATIONS }));
    await dataSource.initialize();
    await dataSource.runMigrations();
    store = new PostgresEventStore(dataSource);
  });

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  });

  it('appends with the expected version and reads the stream back in order', async () => {
    await store.transaction((m) => store.append(m, 's-1', 0, [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], metadata));
    await store.transaction((m) => store.append(m, 's-1', 2, [{ type: 'C', data: { n: 3 } }], metadata));
    const read = await store.readStream('s-1');
    expect(read.version).toBe(3);
    expect(read.events.map((e) => [e.type, e.streamPosition, e.data])).toEqual([
      ['A', 1, { n: 1 }],
      ['B', 2, { n: 2 }],
      ['C', 3, { n: 3 }],
    ]);
    expect((await store.readStream('nothing-here')).version).toBe(0);
  });

  it('refuses an append at a stale version with a typed ConcurrencyError and writes nothing', async () => {
    await store.transaction((m) => store.append(m, 's-2', 0, [{ type: 'A', data: {} }], metadata));
    await expect(store.transaction((m) => store.append(m, 's-2', 0, [{ type: 'A2', data: {} }], metadata))).rejects.toBeInstanceOf(ConcurrencyError);
    expect((await store.readStream('s-2')).events.map((e) => e.type)).toEqual(['A']);
  });

  it('turns the UNIQUE(stream_id, stream_position) backstop into a ConcurrencyError for two racing writers', async () => {
    const runnerA = dataSource.createQueryRunner();
    const runnerB = dataSource.createQueryRunner();
    await runnerA.connect();
    await runnerB.connect();
    try {
      await runnerA.startTransaction();
      await runnerB.startTransaction();
      const bPid = (await runnerB.query('SELECT pg_backend_pid() AS pid'))[0].pid as number;
      // both read version 0; A inserts first and holds its lock, B blocks on the unique index
      await store.append(runnerA.manager, 's-3', 0, [{ type: 'A', data: {} }], metadata);
      const b = expect(store.append(runnerB.manager, 's-3', 0, [{ type: 'B', data: {} }], metadata)).rejects.toBeInstanceOf(ConcurrencyError);
      // A commits only once B waits on it: had B read the version after the commit, the version
      // check would answer instead of the backstop this test is about
      await eventually(async () => (await dataSource.query('SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1', [bPid]))[0]?.wait_event_type, {
        until: (waiting) => waiting === 'Lock',
        intervalMs: 10,
      });
      await runnerA.commitTransaction();
      await b;
      await runnerB.rollbackTransaction();
    } finally {
      await runnerA.release();
      await runnerB.release();
    }
    expect((await store.readStream('s-3')).events.map((e) => e.type)).toEqual(['A']);
  });

  it('never skips an event whose transaction commits after a later one (readAllAfter)', async () => {
    // another session's open transaction (a shared server) holds readers back for a while, as it should
    const start = await eventually(() => store.readAllAfter(LOG_START, 10_000), { until: (events) => events.length > 0 });
    const checkpoint = checkpointOf(start[start.length - 1]!);
    const early = dataSource.createQueryRunner();
    await early.connect();
    try {
      await early.startTransaction();
      await store.append(early.manager, 'late', 0, [{ type: 'Late', data: {} }], metadata); // lower global position, commits last
      await store.transaction((m) => store.append(m, 'quick', 0, [{ type: 'Quick', data: {} }], metadata));
      // while the early transaction is open, the reader must not move past it
      expect(await store.readAllAfter(checkpoint, 100)).toEqual([]);
      await early.commitTransaction();
    } finally {
      await early.release();
    }
    const after = await eventually(() => store.readAllAfter(checkpoint, 100), { until: (events) => events.length >= 2 });
    expect(after.map((e) => e.type)).toEqual(['Late', 'Quick']);
    expect(await store.readAllAfter(checkpointOf(after[1]!), 100)).toEqual([]);
  });

  it('records a processed command once; a duplicate is a typed unique violation', async () => {
    const processed = new ProcessedCommands('test');
    await store.transaction((m) => processed.record(m, 'cmd-1', 'Do', { ok: true }));
    expect(await processed.find(dataSource.manager, 'cmd-1')).toEqual({ ok: true });
    expect(await processed.find(dataSource.manager, 'cmd-2')).toBeUndefined();
    await expect(store.transaction((m) => processed.record(m, 'cmd-1', 'Do', { ok: false }))).rejects.toBeInstanceOf(UniqueViolationError);
    expect(await processed.find(dataSource.manager, 'cmd-1')).toEqual({ ok: true });
  });
});

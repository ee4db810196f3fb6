import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { createTestDatabase, eventually } from '@p2/testing';
import { dataSourceOptions } from '@p2/platform';
import type { MessageMetadata } from '@p2/contracts';
import { ConcurrencyError, LOG_START, PgSession, PostgresEventStore, ProcessedCommands, UniqueViolationError, checkpointOf, planOnce, sqlOf } from '@p2/event-store';
import { MIGRATIONS } from '../apps/certstore/src/database/migrations';

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
    await store.transaction(async (m) => void store.append(m, 's-1', 0, [{ type: 'A', data: { n: 1 } }, { type: 'B', data: { n: 2 } }], metadata));
    await store.transaction(async (m) => void store.append(m, 's-1', 2, [{ type: 'C', data: { n: 3 } }], metadata));
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
    await store.transaction(async (m) => void store.append(m, 's-2', 0, [{ type: 'A', data: {} }], metadata));
    await expect(store.transaction(async (m) => void store.append(m, 's-2', 0, [{ type: 'A2', data: {} }], metadata))).rejects.toBeInstanceOf(ConcurrencyError);
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
      // both read version 0; A inserts first and holds its lock, B blocks on the unique index
      const a = sqlOf(runnerA.manager);
      const b = sqlOf(runnerB.manager);
      store.append(a, 's-3', 0, [{ type: 'A', data: {} }], metadata);
      await a.flush();
      store.append(b, 's-3', 0, [{ type: 'B', data: {} }], metadata);
      // the expectation holds B's rejection from the start: B fails as soon as A commits, possibly
      // before the commit's own answer is read here, and a rejection nobody holds yet fails the suite
      const blocked = expect(b.flush()).rejects.toEqual(new ConcurrencyError('s-3', 0));
      await runnerA.commitTransaction();
      await blocked;
      await runnerB.rollbackTransaction();
    } finally {
      await runnerA.release();
      await runnerB.release();
    }
    expect((await store.readStream('s-3')).events.map((e) => e.type)).toEqual(['A']);
  });

  it('never skips an event whose transaction commits after a later one (readAllAfter)', async () => {
    // the horizon is the oldest transaction of the whole server (other databases included): wait for it
    const start = await eventually(() => store.readAllAfter(LOG_START, 10_000), { until: (events) => events.length > 0 });
    const checkpoint = checkpointOf(start[start.length - 1]!);
    const early = dataSource.createQueryRunner();
    await early.connect();
    try {
      await early.startTransaction();
      const db = sqlOf(early.manager);
      store.append(db, 'late', 0, [{ type: 'Late', data: {} }], metadata); // lower global position, commits last
      await db.flush();
      await store.transaction(async (m) => void store.append(m, 'quick', 0, [{ type: 'Quick', data: {} }], metadata));
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

  it('records processed commands once, many in one statement; a duplicate is a typed unique violation', async () => {
    const processed = new ProcessedCommands('test');
    await store.transaction(async (m) =>
      processed.record(m, [
        { commandId: 'cmd-1', commandType: 'Do', outcome: { ok: true } },
        { commandId: 'cmd-3', commandType: 'Do', outcome: { ok: false } },
      ], new Date()),
    );
    expect(await processed.find(sqlOf(dataSource.manager), 'cmd-1')).toEqual({ ok: true });
    expect(await processed.find(sqlOf(dataSource.manager), 'cmd-2')).toBeUndefined();
    expect(await processed.findMany(sqlOf(dataSource.manager), ['cmd-1', 'cmd-2', 'cmd-3'])).toEqual(new Map([['cmd-1', { ok: true }], ['cmd-3', { ok: false }]]));
    await expect(store.transaction(async (m) => processed.record(m, [{ commandId: 'cmd-1', commandType: 'Do', outcome: { ok: false } }], new Date()))).rejects.toBeInstanceOf(
      UniqueViolationError,
    );
    expect(await processed.find(sqlOf(dataSource.manager), 'cmd-1')).toEqual({ ok: true });
  });

  it('sends deferred statements with the next query in one message, each prepared once per connection', async () => {
    const client = await (dataSource.driver as unknown as { master: { connect(): Promise<{ query(t: string): Promise<unknown>; release(): void }> } }).master.connect();
    const sent: string[] = [];
    const connection = { query: (text: string) => (sent.push(text), client.query(text)) };
    const data = { quote: "it's", backslash: '\\', unicode: 'é', nul: 'no' };
    try {
      const session = new PgSession(connection);
      session.defer('BEGIN');
      store.append(session, 's-session', 0, [{ type: 'A', data }], metadata);
      const read = (db: PgSession) => db.query<{ data: unknown; recorded_at: Date }[]>('SELECT data, recorded_at FROM events WHERE stream_id = $1 AND recorded_at > $2', ['s-session', new Date(0)]);
      const [row] = await read(session);
      expect(row!.data).toEqual(data);
      // first sight of two statements on this connection: prepared in a message of their own
      expect(sent).toHaveLength(2);
      expect(sent[0]).toMatch(/^PREPARE p2_\w+ AS \/\* plan once \*\/ INSERT INTO events[^]*;\nPREPARE p2_\w+ AS SELECT data/);
      // (the append is planOnce: see the next test)
      expect(sent[1]).toMatch(/^BEGIN;\nSET LOCAL plan_cache_mode = force_generic_plan;\nSET LOCAL enable_seqscan = off;\nEXECUTE p2_\w+\('s-session', '1', 'A', '1', +E'\{"quote":"it''s"/);
      store.append(session, 's-session', 0, [{ type: 'again', data: {} }], metadata);
      await expect(session.flush()).rejects.toEqual(new ConcurrencyError('s-session', 0));
      await client.query('ROLLBACK');
      // another session on the same connection finds the statement prepared
      expect(await read(new PgSession(connection))).toEqual([]);
      expect(sent.slice(2).map((text) => text.split('(')[0])).toEqual([expect.stringMatching(/^SET [^]*\nEXECUTE p2_/), expect.stringMatching(/^EXECUTE p2_/)]);
    } finally {
      client.release();
    }
  });

  it('prepares a statement again after a PREPARE message failed part-way, though the part before the failure stays prepared', async () => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const first = 'SELECT count(*)::int AS n FROM events WHERE stream_id = $1';
      const second = 'SELECT v FROM prepare_retry_probe WHERE k = $1';
      const both = (session: PgSession) => {
        const read = session.deferRead<{ n: number }>(first, ['s-none']);
        return { read, last: session.query<{ v: number }[]>(second, ['k']) };
      };
      // the second statement's table is not there yet: its PREPARE fails after the first one's went through
      await expect(both(new PgSession(client)).last).rejects.toThrow(/prepare_retry_probe/);
      expect((await client.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%FROM events WHERE stream_id%'`)).rows[0].n).toBe(1);
      await client.query('CREATE TABLE prepare_retry_probe (k text PRIMARY KEY, v int NOT NULL)');
      await client.query(`INSERT INTO prepare_retry_probe VALUES ('k', 7)`);
      // the same statements on the same connection (a unit retried): no "prepared statement already exists"
      const again = both(new PgSession(client));
      expect(await again.last).toEqual([{ v: 7 }]);
      expect(again.read.rows).toEqual([{ n: 0 }]);
    } finally {
      await client.query('DROP TABLE IF EXISTS prepare_retry_probe');
      await client.end();
    }
  });

  it('keeps one generic plan, made with sequential scans off, for a planOnce statement, and leaves the connection planning the others for their values', async () => {
    // a connection as the certstore opens them
    const client = new Client({ connectionString: db.url, options: '-c plan_cache_mode=force_custom_plan' });
    await client.connect();
    const sent: string[] = [];
    const connection = { query: (text: string) => (sent.push(text), client.query(text)) };
    const setting = async (name: string) => ((await client.query(`SHOW ${name}`)) as { rows: Record<string, string>[] }).rows[0]![name];
    const plans = async (name: string) =>
      ((await client.query(`SELECT generic_plans::int AS generic, custom_plans::int AS custom FROM pg_prepared_statements WHERE name = '${name}'`)) as {
        rows: { generic: number; custom: number }[];
      }).rows;
    try {
      // a small table, analyzed: where a generic plan made now is a sequential scan, which would
      // stay while the table grows
      await client.query('CREATE TABLE plan_once_probe (k text PRIMARY KEY, v int NOT NULL)');
      await client.query(`INSERT INTO plan_once_probe SELECT 'k' || g, g FROM generate_series(1, 5) g`);
      await client.query('ANALYZE plan_once_probe');
      await client.query('PREPARE control(text) AS SELECT v FROM plan_once_probe WHERE k = $1');
      await client.query('SET plan_cache_mode = force_generic_plan');
      expect(JSON.stringify((await client.query('EXPLAIN EXECUTE control(\'k1\')')) as unknown)).toContain('Seq Scan on plan_once_probe');
      await client.query('RESET plan_cache_mode');

      const session = new PgSession(connection);
      const once = planOnce('SELECT v FROM plan_once_probe WHERE k = $1');
      const each = 'SELECT v FROM plan_once_probe WHERE k = $1 AND v >= $2';
      const defaults = async () => expect([await setting('plan_cache_mode'), await setting('enable_seqscan')]).toEqual(['force_custom_plan', 'on']);
      const first = session.deferRead<{ v: number }>(each, ['k2', 0]);
      const second = session.deferRead<{ v: number }>(once, ['k3']);
      expect(await session.query(once, ['k4'])).toEqual([{ v: 4 }]);
      expect(first.rows).toEqual([{ v: 2 }]);
      expect(second.rows).toEqual([{ v: 3 }]);
      // planOnce mode for the two planOnce statements, set once; outside a transaction it ends with the message
      expect(sent[sent.length - 1]).toMatch(
        /^EXECUTE p2_\w+\('k2', '0'\);\nSET LOCAL plan_cache_mode = force_generic_plan;\nSET LOCAL enable_seqscan = off;\nEXECUTE p2_\w+\('k3'\);\nEXECUTE p2_\w+\('k4'\)$/,
      );
      await defaults();
      const [, eachName, onceName] = /^EXECUTE (p2_\w+)[^]*EXECUTE (p2_\w+)\('k3'\)/.exec(sent[sent.length - 1]!)!;
      expect(await session.query(each, ['k5', 0])).toEqual([{ v: 5 }]);
      expect(sent[sent.length - 1]).toMatch(/^EXECUTE p2_\w+\('k5', '0'\)$/);
      expect(await plans(eachName!)).toEqual([{ generic: 0, custom: 2 }]);
      expect(await plans(onceName!)).toEqual([{ generic: 2, custom: 0 }]);
      // the plan kept is the index's, though a generic plan made with sequential scans on is not
      await client.query('SET plan_cache_mode = force_generic_plan');
      const kept = JSON.stringify((await client.query(`EXPLAIN EXECUTE ${onceName}('k1')`)) as unknown);
      await client.query('RESET plan_cache_mode');
      expect(kept).toContain('Index Scan using plan_once_probe_pkey');
      expect(await plans(onceName!)).toEqual([{ generic: 3, custom: 0 }]);

      // in a transaction the mode lasts from message to message, and changes only where needed
      session.defer('BEGIN');
      expect(await session.query(once, ['k1'])).toEqual([{ v: 1 }]);
      expect(sent[sent.length - 1]).toMatch(/^BEGIN;\nSET LOCAL plan_cache_mode = force_generic_plan;\nSET LOCAL enable_seqscan = off;\nEXECUTE p2_\w+\('k1'\)$/);
      expect(await session.query(once, ['k2'])).toEqual([{ v: 2 }]);
      expect(sent[sent.length - 1]).toMatch(/^EXECUTE p2_\w+\('k2'\)$/);
      expect(await session.query(each, ['k3', 0])).toEqual([{ v: 3 }]);
      expect(sent[sent.length - 1]).toMatch(/^RESET plan_cache_mode;\nRESET enable_seqscan;\nEXECUTE p2_\w+\('k3', '0'\)$/);
      await defaults();
      // a failure, undone to a savepoint taken in planOnce mode: the session no longer knows the
      // mode (here: planOnce again), so the next statement sets what it needs
      await session.query(once, ['k4']);
      session.defer('SAVEPOINT s');
      session.defer(planOnce('SELECT v / $2 FROM plan_once_probe WHERE k = $1'), ['k1', 0]);
      await expect(session.flush()).rejects.toThrow(/division by zero/);
      await session.query('ROLLBACK TO SAVEPOINT s');
      expect(await setting('plan_cache_mode')).toBe('force_generic_plan');
      expect(await session.query(each, ['k5', 0])).toEqual([{ v: 5 }]);
      expect(sent[sent.length - 1]).toMatch(/^RESET plan_cache_mode;\nRESET enable_seqscan;\nEXECUTE /);
      // and the transaction's end leaves the connection at its defaults, as the pool expects
      await session.query(once, ['k1']);
      await session.query('COMMIT');
      await defaults();
      expect(await session.query(each, ['k2', 0])).toEqual([{ v: 2 }]);
      expect(sent[sent.length - 1]).toMatch(/^EXECUTE p2_\w+\('k2', '0'\)$/);
    } finally {
      await client.query('DROP TABLE IF EXISTS plan_once_probe').catch(() => undefined);
      await client.end();
    }
  });

  it('keeps the rows of a deferred read when its message is answered, and tells whoever sent it what `interrupt` returns', async () => {
    const client = await (dataSource.driver as unknown as { master: { connect(): Promise<{ query(t: string): Promise<unknown>; release(): void }> } }).master.connect();
    const sent: string[] = [];
    const connection = { query: (text: string) => (sent.push(text), client.query(text)) };
    const processed = new ProcessedCommands('test-later');
    await store.transaction(async (m) => processed.record(m, [{ commandId: 'later-1', commandType: 'Do', outcome: { ok: 1 } }], new Date()));
    try {
      const session = new PgSession(connection);
      session.defer('BEGIN');
      const lookup = processed.findManyLater<{ ok: number }>(session, ['later-1', 'later-2']);
      const other = session.deferRead<{ n: number }>('SELECT $1::int AS n', [7]);
      expect(lookup.known()).toBeUndefined();
      expect(other.rows).toBeUndefined();
      // the reads leave with the next statement, in the same message
      expect(await session.query<{ one: number }[]>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      expect(sent.filter((text) => !text.startsWith('PREPARE'))).toEqual([expect.stringMatching(/^BEGIN;\nEXECUTE p2_\w+\('test-later', .*\);\nEXECUTE p2_\w+\('7'\);\nSELECT 1 AS one$/)]);
      expect(lookup.known()).toEqual(new Map([['later-1', { ok: 1 }]]));
      expect(other.rows).toEqual([{ n: 7 }]);

      // `interrupt` is asked after each message that went through; what it returns is thrown
      session.interrupt = () => new Error('stop here');
      await expect(session.query('SELECT 2')).rejects.toThrow('stop here');
      // once: the next message goes through
      expect(session.interrupt).toBeUndefined();
      expect(await session.query('SELECT 3 AS three')).toEqual([{ three: 3 }]);

      // a read whose message failed has no rows; get() asks again
      const failed = processed.findManyLater<{ ok: number }>(session, ['later-1']);
      session.defer('SELECT 1/0');
      await expect(session.flush()).rejects.toThrow(/division by zero/);
      await client.query('ROLLBACK');
      session.defer('BEGIN');
      expect(failed.known()).toBeUndefined();
      expect(await failed.get()).toEqual(new Map([['later-1', { ok: 1 }]]));
      // and a lookup not sent yet is sent by get(), with what waits before it
      const waiting = processed.findManyLater<{ ok: number }>(session, ['later-2']);
      const before = sent.length;
      expect(await waiting.get()).toEqual(new Map());
      expect(sent.slice(before)).toEqual([expect.stringMatching(/^EXECUTE p2_\w+\('test-later', '\{"later-2"\}'\)$/)]);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });

  it('reads the log in the numeric order of transaction IDs, across a change in their number of digits (readAllAfter)', async () => {
    // transaction IDs 9 and 10 are older than any transaction of this server: as text, "10" would
    // sort before every other ID and "9" after them, and a checkpoint taken inside a batch cut
    // short by its limit would skip the events in between for good
    await dataSource.query(
      `INSERT INTO events (stream_id, stream_position, type, data, metadata, transaction_id)
       VALUES ('digits', 1, 'Nine', '{}', '{}', '9'::xid8), ('digits', 2, 'Ten', '{}', '{}', '10'::xid8)`,
    );
    const first = await store.readAllAfter(LOG_START, 1);
    expect(first.map((e) => [e.type, e.transactionId])).toEqual([['Nine', '9']]);
    const next = await store.readAllAfter(checkpointOf(first[0]!), 1);
    expect(next.map((e) => [e.type, e.transactionId])).toEqual([['Ten', '10']]);
  });

  it('reads a stream version with one index probe, 0 for an empty stream', async () => {
    await store.transaction(async (m) => void store.append(m, 's-version', 0, [{ type: 'A', data: {} }, { type: 'B', data: {} }], metadata));
    expect(await store.streamVersion('s-version')).toBe(2);
    expect(await store.streamVersion('s-none')).toBe(0);
    // a stale expected version two behind still collides with an existing position
    await expect(store.transaction(async (m) => void store.append(m, 's-version', 0, [{ type: 'C', data: {} }], metadata))).rejects.toBeInstanceOf(ConcurrencyError);
  });
});

import { DataSource } from 'typeorm';
import { PostgresEventStore, sqlOf, type AppendedEvent, type Sql } from '@p2/event-store';
import { dataSourceOptions } from '@p2/platform';
import {
  actorCerts,
  applyProjections,
  NO_SECRETS,
  certsNeedingWindows,
  currentCacheWindow,
  recordCacheWindow,
  type CacheWindow,
  claimFacts,
  inboxItemsBySequence,
  keyMaterialFacts,
  liveCertsOfRoot,
  serverCertAt,
  sessionsByTokenHashes,
  LOOKUPS_PER_STATEMENT,
  unfetchedItemsOfSessions,
  uploadFacts,
} from '@p2/read-models';
import { createTestDatabase } from '@p2/testing';
import { migrateDatabase } from '../apps/certstore/src/database/migrations';

const FID = 'alice@example.com';
const TOKEN_HASH = 'a'.repeat(64);
const ROOT = { serial: '1', notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };
/** The cert under test: issued a minute after its notBefore, as the certstore backdates it. */
const CERT = { serial: '7', notBefore: new Date('2026-03-01T00:00:00Z'), notAfter: new Date('2026-03-31T00:00:00Z'), issuedAt: new Date('2026-03-01T00:01:00Z') };
const plus = (t: Date, seconds: number) => new Date(t.getTime() + seconds * 1000);

let position = 0;
function event(streamId: string, type: string, data: object): AppendedEvent {
  const messageId = `m${++position}`;
  return {
    streamId,
    streamPosition: position,
    type,
    schemaVersion: 1,
    data,
    metadata: { messageId, correlationId: messageId, causationId: messageId, occurredAt: new Date(0).toISOString(), schemaVersion: 1 },
  };
}

const issued = (sessionId: string, serial: string, validity: { notBefore: Date; notAfter: Date }, issuedAt: Date) =>
  event(`actor-${FID}`, 'IdCertIssued', {
    federationId: FID,
    sessionId,
    serial,
    certPem: `PEM ${serial}`,
    publicKey: 'KEY',
    notBefore: validity.notBefore.toISOString(),
    notAfter: validity.notAfter.toISOString(),
    issuedAt: issuedAt.toISOString(),
    rootSerial: ROOT.serial,
  });

/**
 * The read models' validity predicates against real PostgreSQL (docs/protocol.md#cert-validity): a
 * certificate is valid from notBefore through notAfter, both inclusive, so every query that asks
 * "valid at T" or "not expired at T" finds it at exactly notAfter and no longer one second later.
 */
describe('read model queries at the edges of a certificate validity (PostgreSQL)', () => {
  let dataSource: DataSource;
  let db: Sql;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const database = await createTestDatabase('readmodels');
    drop = database.drop;
    await migrateDatabase(database.url);
    dataSource = new DataSource(dataSourceOptions(database.url));
    await dataSource.initialize();
    db = sqlOf(dataSource.manager);
    await project([
      event('server', 'ServerKeyGenerated', {
        serial: ROOT.serial,
        certPem: 'ROOT PEM',
        publicKey: 'ROOT KEY',
        notBefore: ROOT.notBefore.toISOString(),
        notAfter: ROOT.notAfter.toISOString(),
        generatedAt: ROOT.notBefore.toISOString(),
      }),
      event(`actor-${FID}`, 'ActorRegistered', { federationId: FID, localName: 'alice', registeredAt: ROOT.notBefore.toISOString() }),
      event(`actor-${FID}`, 'SessionOpened', { federationId: FID, sessionId: 's1', serial: CERT.serial, tokenHash: TOKEN_HASH, openedAt: CERT.issuedAt.toISOString() }),
      issued('s1', CERT.serial, CERT, CERT.issuedAt),
    ]);
  });

  /** Applies events as the certstore does: in one transaction (a token's foreign key to its cert,
   * written by the next event, is checked at commit). */
  function project(events: AppendedEvent[]): Promise<void> {
    return dataSource.transaction(async (manager) => {
      const tx = sqlOf(manager);
      await applyProjections(tx, events, NO_SECRETS);
      await tx.flush();
    });
  }

  afterAll(async () => {
    await dataSource?.destroy();
    await drop?.();
  });

  const serialsOf = (rows: readonly { serial: string }[]) => rows.map((r) => r.serial);

  it('the certs an actor had at T: the cert at exactly notAfter, none a second later', async () => {
    expect(serialsOf(await actorCerts(db, FID, { at: CERT.notAfter }, CERT.notAfter))).toEqual([CERT.serial]);
    expect(serialsOf(await actorCerts(db, FID, { at: plus(CERT.notAfter, 1) }, CERT.notAfter))).toEqual([]);
  });

  it('the certs not expired now, and a range starting at notAfter, include it; a second later they do not', async () => {
    expect(serialsOf(await actorCerts(db, FID, {}, CERT.notAfter))).toEqual([CERT.serial]);
    expect(serialsOf(await actorCerts(db, FID, {}, plus(CERT.notAfter, 1)))).toEqual([]);
    expect(serialsOf(await actorCerts(db, FID, { range: { from: CERT.notAfter } }, CERT.notAfter))).toEqual([CERT.serial]);
    expect(serialsOf(await actorCerts(db, FID, { range: { from: plus(CERT.notAfter, 1) } }, CERT.notAfter))).toEqual([]);
  });

  it('a token authenticates from notBefore through notAfter, inclusive', async () => {
    const sessionByTokenHash = async (db: Sql, tokenHash: string, now: Date) => (await sessionsByTokenHashes(db, [{ tokenHash, now }]))[0];
    const session = { federationId: FID, sessionId: 's1', certSerial: CERT.serial, certNotAfter: CERT.notAfter, foreign: false };
    expect(await sessionByTokenHash(db, TOKEN_HASH, plus(CERT.notBefore, -1))).toBeUndefined();
    expect(await sessionByTokenHash(db, TOKEN_HASH, CERT.notBefore)).toEqual(session);
    expect(await sessionByTokenHash(db, TOKEN_HASH, CERT.notAfter)).toEqual(session);
    expect(await sessionByTokenHash(db, TOKEN_HASH, plus(CERT.notAfter, 1))).toBeUndefined();
  });

  it('tokens looked up together: each at its own instant, answered in order, unknown ones and the padding left out', async () => {
    const session = { federationId: FID, sessionId: 's1', certSerial: CERT.serial, certNotAfter: CERT.notAfter, foreign: false };
    const unknown = 'b'.repeat(64);
    // three lookups go out padded to four (the last repeated): its answer must not land anywhere
    expect(
      await sessionsByTokenHashes(db, [
        { tokenHash: TOKEN_HASH, now: CERT.notAfter },
        { tokenHash: TOKEN_HASH, now: plus(CERT.notAfter, 1) },
        { tokenHash: unknown, now: CERT.notAfter },
      ]),
    ).toEqual([session, undefined, undefined]);
    expect(await sessionsByTokenHashes(db, [{ tokenHash: unknown, now: CERT.notAfter }, { tokenHash: TOKEN_HASH, now: CERT.notBefore }])).toEqual([undefined, session]);
    const full = Array.from({ length: LOOKUPS_PER_STATEMENT }, (_, i) => ({ tokenHash: i % 2 ? TOKEN_HASH : unknown, now: CERT.notBefore }));
    expect(await sessionsByTokenHashes(db, full)).toEqual(full.map((_, i) => (i % 2 ? session : undefined)));
    await expect(sessionsByTokenHashes(db, [...full, full[0]!])).rejects.toThrow(RangeError);
    expect(await sessionsByTokenHashes(db, [])).toEqual([]);
  });

  it('KeyPackage uploads and claims see the session active at notAfter, not a second later', async () => {
    const upload = (at: Date) => uploadFacts(db, `keypackages-${FID}`, FID, { sessionId: 's1', serial: CERT.serial }, [], at);
    expect((await upload(CERT.notAfter)).sessionActive).toBe(true);
    expect((await upload(plus(CERT.notAfter, 1))).sessionActive).toBe(false);
    expect((await claimFacts(db, `keypackages-${FID}`, FID, CERT.notAfter)).activeSessions).toEqual([{ sessionId: 's1', serial: CERT.serial }]);
    expect((await claimFacts(db, `keypackages-${FID}`, FID, plus(CERT.notAfter, 1))).activeSessions).toEqual([]);
  });

  it('an upload reads the KeyPackage stock only when the stream moved past the version the caller holds it at', async () => {
    const streamId = `keypackages-${FID}`;
    const store = new PostgresEventStore(dataSource);
    const add = (initKey: string, version: number) =>
      store.transaction(async (tx) => {
        const keyPackages = [{ protocolVersion: 'mls10', cipherSuite: 'suite', initKey, leafNode: 'AA==', extensions: null }];
        const data = { federationId: FID, sessionId: 's1', serial: CERT.serial, keyPackages, addedAt: CERT.issuedAt.toISOString() };
        await applyProjections(tx, store.append(tx, streamId, version, [{ type: 'KeyPackagesAdded', data }], event(streamId, 'x', {}).metadata), NO_SECRETS);
      });
    const facts = (knownVersion?: number) => uploadFacts(db, streamId, FID, { sessionId: 's1', serial: CERT.serial }, [], CERT.issuedAt, knownVersion);
    await add('k1', 0);
    const first = await facts();
    expect({ version: first.version, state: first.state }).toEqual({ version: 1, state: { stock: { [CERT.serial]: { sessionId: 's1', unclaimed: ['k1'] } } } });
    expect((await facts(1)).state).toBeUndefined();
    await add('k2', 1);
    const moved = await facts(1);
    expect({ version: moved.version, state: moved.state }).toEqual({ version: 2, state: { stock: { [CERT.serial]: { sessionId: 's1', unclaimed: ['k1', 'k2'] } } } });
  });

  it('a key material store reads the stored serials only when the stream moved past the version the caller holds them at', async () => {
    const streamId = `keymaterial-${FID}`;
    const store = new PostgresEventStore(dataSource);
    const append = (version: number, type: 'KeyMaterialStored' | 'KeyMaterialDeleted', data: object) =>
      store.transaction(async (tx) => {
        await applyProjections(tx, store.append(tx, streamId, version, [{ type, data: { federationId: FID, ...data } }], event(streamId, 'x', {}).metadata), NO_SECRETS);
      });
    const facts = (knownVersion?: number) => keyMaterialFacts(db, streamId, FID, [CERT.serial, '424242'], knownVersion);
    await append(0, 'KeyMaterialStored', { serial: CERT.serial, keyData: 'pem', encryptionAlgorithms: [], storedAt: CERT.issuedAt.toISOString() });
    const first = await facts();
    expect({ version: first.version, stored: first.stored, own: first.ownSerials }).toEqual({ version: 1, stored: new Set([CERT.serial]), own: new Set([CERT.serial]) });
    const same = await facts(1);
    expect({ version: same.version, stored: same.stored, own: same.ownSerials }).toEqual({ version: 1, stored: undefined, own: new Set([CERT.serial]) });
    await append(1, 'KeyMaterialDeleted', { serials: [CERT.serial], deletedAt: CERT.issuedAt.toISOString() });
    const moved = await facts(1);
    expect({ version: moved.version, stored: moved.stored }).toEqual({ version: 2, stored: new Set() });
  });

  it('cache renewal and the compromised-root invalidation still cover the cert at notAfter', async () => {
    expect(serialsOf(await certsNeedingWindows(db, CERT.notAfter))).toContain(CERT.serial);
    expect(serialsOf(await certsNeedingWindows(db, plus(CERT.notAfter, 1)))).not.toContain(CERT.serial);
    expect(serialsOf(await liveCertsOfRoot(db, ROOT.serial, CERT.notAfter))).toEqual([CERT.serial]);
    expect(serialsOf(await liveCertsOfRoot(db, ROOT.serial, plus(CERT.notAfter, 1)))).toEqual([]);
  });

  it('the cache window served: one that tells of the invalidation beats a fresher one that does not', async () => {
    // what a renewal racing an invalidation can leave: the renewal read the cert before the
    // invalidation committed, and its window, signed a second later, ends a second later
    const at = Math.floor(CERT.issuedAt.getTime() / 1000) + 3600;
    const write = (window: CacheWindow) =>
      dataSource.transaction(async (manager) => {
        const tx = sqlOf(manager);
        recordCacheWindow(tx, CERT.serial, window);
        await tx.flush();
      });
    await write({ cacheNotValidBefore: at, cacheNotValidAfter: at + 6 * 3600, invalidatedAt: at, signature: 'invalidated' });
    await write({ cacheNotValidBefore: at + 1, cacheNotValidAfter: at + 6 * 3600 + 1, invalidatedAt: null, signature: 'stale' });
    try {
      expect((await currentCacheWindow(db, CERT.serial, new Date((at + 2) * 1000)))?.signature).toBe('invalidated');
      // nor is it served in the second it outlasts the invalidated window: nothing is, until the next renewal
      expect(await currentCacheWindow(db, CERT.serial, new Date((at + 6 * 3600) * 1000))).toBeUndefined();
    } finally {
      await db.query('DELETE FROM cache_signatures WHERE serial = $1', [CERT.serial]);
    }
  });

  it('the root at T: valid at its notAfter, none a second later', async () => {
    expect((await serverCertAt(db, ROOT.notAfter))?.serial).toBe(ROOT.serial);
    expect(await serverCertAt(db, plus(ROOT.notAfter, 1))).toBeUndefined();
  });

  it('a resend lists the items in sequence order, across a change in their number of digits', async () => {
    await db.query(
      `INSERT INTO session_inbox (federation_id, session_id, seq, type, op, payload, created_at)
       SELECT 'resend@example.com', 'resend', seq, 'Test', NULL, '{}', now() FROM unnest(ARRAY[8, 9, 10, 11]::bigint[]) AS seq`,
    );
    expect((await inboxItemsBySequence(db, 'resend@example.com', 'resend', [11, 9, 10, 8])).map((item) => item.s)).toEqual([8, 9, 10, 11]);
  });

  it('the unfetched items of several sessions in one statement: each its own, after its cursor, in order', async () => {
    await db.query(
      `INSERT INTO session_inbox (federation_id, session_id, seq, type, op, payload, created_at)
       SELECT 'poll@example.com', s, seq, 'Test', NULL, jsonb_build_object('n', seq), now()
         FROM unnest(ARRAY['a', 'b']) AS s, generate_series(1, 4) AS seq`,
    );
    await db.query(
      `INSERT INTO session_inbox_cursors (federation_id, session_id, last_seq, fetched_seq) VALUES ('poll@example.com', 'a', 4, 0), ('poll@example.com', 'b', 4, 2)`,
    );
    const seqs = async (...sessionIds: string[]) =>
      (await unfetchedItemsOfSessions(db, sessionIds.map((sessionId) => ({ federationId: 'poll@example.com', sessionId })))).map((items) => items.map((item) => item.s));
    // three sessions go out padded to four: the padding's items must not land anywhere
    expect(await seqs('b', 'a', 'none')).toEqual([[3, 4], [1, 2, 3, 4], []]);
    expect(await seqs('a', 'b', 'a')).toEqual([[1, 2, 3, 4], [3, 4], [1, 2, 3, 4]]);
    expect((await unfetchedItemsOfSessions(db, [{ federationId: 'poll@example.com', sessionId: 'b' }]))[0]).toEqual([
      { type: 'Test', n: 'core', d: { n: 3 }, s: 3 },
      { type: 'Test', n: 'core', d: { n: 4 }, s: 4 },
    ]);
  });

  it('inbox recipients: a session whose cert ends at the instant of an event gets it, one that ended a second before does not', async () => {
    // s2 opens at exactly the notAfter of s1's cert (s1 is told), s3 a second later (s1 is not; s2 is)
    const s2 = { notBefore: plus(CERT.notAfter, -60), notAfter: plus(CERT.notAfter, 86_400) };
    await project([issued('s2', '8', s2, CERT.notAfter), issued('s3', '9', s2, plus(CERT.notAfter, 1))]);
    const items: { session_id: string; type: string }[] = await db.query(
      `SELECT session_id, type FROM session_inbox WHERE federation_id = $1 ORDER BY session_id, seq`,
      [FID],
    );
    expect(items).toEqual([
      { session_id: 's1', type: 'NEW_SESSION' },
      { session_id: 's2', type: 'NEW_SESSION' },
    ]);
  });

  // last: it rotates the root the tests above read
  it('the root at T, a whole second: a root activated during that second is the answer, the newest winning', async () => {
    const rotatedAt = new Date('2026-06-01T00:00:00.400Z');
    const second = new Date('2026-06-01T00:00:00Z');
    await project([
      event('server', 'ServerKeyRotated', {
        serial: '2',
        certPem: 'ROOT 2 PEM',
        publicKey: 'ROOT 2 KEY',
        notBefore: plus(second, -60).toISOString(),
        notAfter: ROOT.notAfter.toISOString(),
        previousSerial: ROOT.serial,
        rotatedAt: rotatedAt.toISOString(),
        compromised: false,
        requestedBy: 'admin@example.com',
      }),
    ]);
    expect((await serverCertAt(db, plus(second, -1)))?.serial).toBe(ROOT.serial);
    expect((await serverCertAt(db, second))?.serial).toBe('2');
    expect((await serverCertAt(db, plus(second, 1)))?.serial).toBe('2');
    expect((await serverCertAt(db))?.serial).toBe('2');
  });
});

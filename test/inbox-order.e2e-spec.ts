import { X509Certificate } from 'node:crypto';
import { AssignerProtocol } from 'kafkajs';
import { Client } from 'pg';
import { ERROR_CODE } from '@p2/contracts';
import { INBOX_ORDER_LOCK_KEY } from '@p2/read-models';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { CommandProbe, stopWatched, watchCluster } from './support/command-probe';
import { http, bearer } from './support/http';
import { opensslCsr } from './support/openssl';
import { rebuildFromLog, snapshotProjections } from './support/projections';
import { freshKeyPackage } from './support/key-packages';

/** Far longer than a statement below waits on purpose: a rotation cancelled while held would be
 * retried later, after the writes it is meant to race with, and prove nothing. */
const STATEMENT_TIMEOUT_MS = 120_000;
/** PostgreSQL's deadlock_timeout (its default, which the test servers keep). */
const DEADLOCK_TIMEOUT_MS = 1_000;
/** pg_locks and pg_stat_activity list every database's: this suite's only */
const HERE = 'database = (SELECT oid FROM pg_database WHERE datname = current_database())';

interface Session {
  readonly actor: string;
  readonly sessionId: string;
  readonly token: string;
  readonly serial: string;
}

/**
 * docs/architecture.md#rebuild-order: a server key rotation (partition `server`) delivers to every
 * session while actors' partitions deliver to their own, in other transactions. The inbox items a
 * session gets live are numbered, and addressed, as a rebuild from the log numbers and addresses
 * them.
 */
describe('inbox order: a server key rotation beside actors writing to their inboxes', () => {
  let cluster: TestCluster;
  let db: Client;
  let probe: CommandProbe;
  const password = 'correct horse battery staple';
  const api = (path: string) => `${cluster.url}/.p2/core/v1${path}`;

  beforeAll(async () => {
    // two certstores: a certstore fetches no more commands while a batch of its last fetch waits, so
    // the rotation held below and the write racing it must be on partitions of different ones
    cluster = await TestCluster.start({ label: 'inboxorder', certstores: 2, env: { P2_DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) } });
    ({ db, probe } = await watchCluster(cluster));
  });

  afterAll(() => stopWatched({ probe, db, cluster }));

  async function register(actor: string): Promise<void> {
    expect((await http('POST', api('/register'), { json: { actor_name: actor, auth_payload: { password } } })).status).toBe(201);
  }

  async function openSession(actor: string, sessionId: string): Promise<Session> {
    const csr = opensslCsr({ localName: actor, domain: 'example.com', sessionId });
    const res = await http('POST', api('/session/trust'), { json: { actor_name: actor, csr: csr.csrPem, auth_payload: { password } } });
    expect([sessionId, res.status]).toEqual([sessionId, 201]);
    return { actor, sessionId, token: res.body.token, serial: BigInt(`0x${new X509Certificate(res.body.id_cert).serialNumber}`).toString() };
  }

  /** A fresh last-resort KeyPackage for the session: the next claim serves it for the first time,
   * which asks the session for more (LOW_KEY_PACKAGES). */
  async function replaceLastResort(session: Session): Promise<void> {
    const keyPackage = freshKeyPackage();
    expect((await http('PUT', api('/keypackage_lr'), { json: keyPackage, headers: bearer(session.token) })).status).toBe(204);
  }

  /** A rotation straight on Kafka: no administrator needed, and its partition is the test's choice. */
  async function sendRotation(partition = 0, { compromised = false } = {}): Promise<string> {
    const rotation = probe.envelope('RotateServerKey', { requestedBy: 'operator:tests', compromised });
    await probe.send([rotation], partition);
    return rotation.metadata.messageId as string;
  }

  /** A command partition of each certstore, once the group has handed them out. */
  async function partitionsOfEachCertstore(): Promise<[number, number]> {
    const admin = probe.kafka.admin();
    await admin.connect();
    try {
      const group = `${cluster.topicPrefix}p2-certstore`;
      const owned = await eventually(
        async () => {
          const { groups } = await admin.describeGroups([group]);
          return groups[0]!.members.map((m) => AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[probe.topics.commands] ?? []);
        },
        { until: (members) => members.length === 2 && members.every((partitions) => partitions.length > 0), timeoutMs: 30_000, what: 'both certstores holding command partitions' },
      );
      return [owned[0]![0]!, owned[1]![0]!];
    } finally {
      await admin.disconnect();
    }
  }

  /**
   * Runs `body` while a writer holds the server stream's next position, uncommitted: a rotation's
   * INSERT into the log draws its global position and waits on the unique index for this
   * transaction, before any of its projections ran. `release` rolls it back, which lets the
   * rotation go on with that position.
   */
  async function withServerPositionHeld(body: (held: { readonly pid: number; release(): Promise<void> }) => Promise<void>): Promise<void> {
    const holder = new Client({ connectionString: cluster.databaseUrl });
    await holder.connect();
    let held = false;
    try {
      const version = (await holder.query<{ v: number }>(`SELECT coalesce(max(stream_position), 0)::int AS v FROM events WHERE stream_id = 'server'`)).rows[0]!.v;
      const [{ pid }] = (await holder.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
      await holder.query('BEGIN');
      held = true;
      await holder.query(`INSERT INTO events (stream_id, stream_position, type, data, metadata) VALUES ('server', $1, 'PositionHeldByTest', '{}', $2)`, [
        version + 1,
        probe.envelope('PositionHeldByTest', {}).metadata,
      ]);
      await body({
        pid,
        release: async () => {
          held = false;
          await holder.query('ROLLBACK');
        },
      });
    } finally {
      if (held) await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end();
    }
  }

  async function untilBlockedBy(pid: number, what: string): Promise<void> {
    await eventually(
      async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND $1 = ANY(pg_blocking_pids(pid))`, [pid])).rows[0]!.n,
      { until: (n) => n > 0, timeoutMs: 30_000, what },
    );
  }

  /** Transactions of this database waiting for the inbox-order lock. */
  async function inboxOrderLockWaiters(): Promise<number> {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM pg_locks WHERE ${HERE} AND locktype = 'advisory' AND ((classid::bigint << 32) | objid::bigint) = $1 AND NOT granted`,
      [INBOX_ORDER_LOCK_KEY],
    );
    return rows[0]!.n;
  }

  /** Deadlocks PostgreSQL has broken in this database (counted by the backend that was cancelled). */
  async function deadlocksHere(): Promise<number> {
    return (await db.query<{ n: number }>(`SELECT deadlocks::int AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0]!.n;
  }

  async function expectAccepted(commandId: string): Promise<void> {
    expect(await probe.replyFor(commandId, 60_000)).toEqual(expect.objectContaining({ ok: true }));
  }

  /** The live read models equal a rebuild from the log (which replays in global-position order). */
  async function expectLiveEqualsRebuilt(): Promise<void> {
    const live = await snapshotProjections(db);
    await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
    const rebuilt = await snapshotProjections(db);
    expect(rebuilt.session_inbox).toEqual(live.session_inbox);
    expect(rebuilt.session_inbox_cursors).toEqual(live.session_inbox_cursors);
    expect(rebuilt).toEqual(live);
  }

  async function inboxOf(session: Session): Promise<string[]> {
    const { rows } = await db.query<{ type: string; reason: string | null }>(
      `SELECT type, payload->>'reason' AS reason FROM session_inbox WHERE federation_id = $1 AND session_id = $2 ORDER BY seq`,
      [`${session.actor}@example.com`, session.sessionId],
    );
    return rows.map((r) => (r.reason ? `${r.type}:${r.reason}` : r.type));
  }

  it('numbers a last resort served while a rotation is inside its append after the rotation, as a rebuild does', async () => {
    await register('amy');
    await register('xena');
    const amy = await openSession('amy', 'a1');
    const xena = await openSession('xena', 'x1');
    await replaceLastResort(xena);
    const before = await inboxOf(xena);

    // the rotation waits inside its append, its global position drawn (withServerPositionHeld)
    const [rotationPartition, claimPartition] = await partitionsOfEachCertstore();
    await withServerPositionHeld(async ({ pid, release }) => {
      const rotation = await sendRotation(rotationPartition);
      await untilBlockedBy(pid, 'the rotation waiting for the held position');

      // amy asks for xena's KeyPackages, handled by the other certstore: the last resort is served,
      // and xena's session is asked for more
      const claim = probe.envelope('ClaimKeyPackages', { federationId: 'xena@example.com', requestedBy: 'amy@example.com' });
      await probe.send([claim], claimPartition);
      // either it went through beside the held rotation, or it waits for the rotation to commit
      await eventually(async () => probe.received(claim.metadata.messageId as string).length > 0 || (await inboxOrderLockWaiters()) > 0, {
        until: Boolean,
        timeoutMs: 30_000,
        what: 'the claim applied, or waiting for the rotation',
      });

      await release();
      await expectAccepted(rotation);
      await expectAccepted(claim.metadata.messageId as string);
    });

    const live = { xena: await inboxOf(xena), amy: await inboxOf(amy) };
    await expectLiveEqualsRebuilt();
    // the rotation is first in the log, so first in xena's inbox; amy's session saw only the rotation
    const log = await db.query<{ type: string }>(
      `SELECT type FROM events WHERE type IN ('ServerKeyRotated', 'LastResortKeyPackageServed') ORDER BY global_position DESC LIMIT 2`,
    );
    expect(log.rows.map((r) => r.type)).toEqual(['LastResortKeyPackageServed', 'ServerKeyRotated']);
    expect(live.xena.slice(before.length)).toEqual(['SERVER_KEY_CHANGE', 'LOW_KEY_PACKAGES:server-key-change', 'LOW_KEY_PACKAGES:last-resort-served']);
    expect(live.amy.slice(-2)).toEqual(['SERVER_KEY_CHANGE', 'LOW_KEY_PACKAGES:server-key-change']);
  });

  it('keeps live and rebuilt inboxes equal under rotations racing last-resort serves, session opens and deletions of several actors', async () => {
    const actors = ['bea', 'cal', 'dot', 'eli'];
    for (const actor of actors) await register(actor);
    const sessions = new Map<string, Session[]>();
    for (const actor of actors) sessions.set(actor, [await openSession(actor, 's0'), await openSession(actor, 's1'), await openSession(actor, 's2')]);
    const deadLettersBefore = await probe.deadLetterCount();
    const rotationsInLog = async () => (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE type = 'ServerKeyRotated'`)).rows[0]!.n;
    const rotatedBefore = await rotationsInLog();

    for (let round = 1; round <= 4; round++) {
      await Promise.all([...sessions.values()].flat().map((session) => replaceLastResort(session)));
      const work: Promise<unknown>[] = [];
      const rotations: string[] = [];
      for (const actor of actors) {
        const own = sessions.get(actor)!;
        // the other actor's newest session: its oldest may be deleted meanwhile
        const other = sessions.get(actors[(actors.indexOf(actor) + 1) % actors.length]!)!.at(-1)!;
        // serves the last resort of each of the actor's sessions: LOW_KEY_PACKAGES to each
        work.push(http('GET', api(`/keypackage/${actor}@example.com`), { headers: bearer(other.token) }).then((res) => expect(res.status).toBe(200)));
        // a new session (NEW_SESSION to the others), and the oldest deleted (ACTOR_CERTIFICATE_INVALIDATION)
        work.push(
          openSession(actor, `r${round}`).then((opened) => {
            own.push(opened);
          }),
        );
        const [oldest] = own.splice(0, 1);
        work.push(
          http('DELETE', `${api('/session')}?session_id=${oldest!.sessionId}`, { headers: { ...bearer(own[0]!.token), 'X-P2-Sensitive-Solution': password } }).then((res) =>
            expect([oldest!.sessionId, res.status]).toEqual([oldest!.sessionId, 204]),
          ),
        );
        if (actors.indexOf(actor) % 2 === 0) rotations.push(await sendRotation());
      }
      await Promise.all(work);
      for (const rotation of rotations) await expectAccepted(rotation);
    }

    expect(await probe.deadLetterCount()).toBe(deadLettersBefore);
    expect((await rotationsInLog()) - rotatedBefore).toBe(4 * 2);
    await expectLiveEqualsRebuilt();
  });
  // Last in the file: a compromise invalidates every session of the suite.
  it('a compromise rotation and a batch that logs an actor out and then acknowledges its inbox neither deadlock nor run twice', async () => {
    await register('xavier');
    const xavier = await openSession('xavier', 'x1');
    const federationId = `${xavier.actor}@example.com`;
    const { sessionId, serial } = xavier;
    const [{ token_hash: tokenHash }] = (
      await db.query<{ token_hash: string }>(`SELECT token_hash FROM session_tokens WHERE federation_id = $1 AND session_id = $2`, [federationId, sessionId])
    ).rows;
    const logOut = probe.envelope('LogOutSession', { federationId, sessionId, tokenHash });
    const acknowledge = probe.envelope('AcknowledgeInbox', { federationId, sessionId, upTo: 1 });
    const deadLettersBefore = await probe.deadLetterCount();
    const deadlocksBefore = await deadlocksHere();

    const [rotationPartition, actorPartition] = await partitionsOfEachCertstore();
    let rotation!: string;
    await withServerPositionHeld(async ({ pid, release }) => {
      // the rotation holds the inbox-order lock exclusively and waits inside its append; once
      // released it invalidates xavier's cert on xavier's stream
      rotation = await sendRotation(rotationPartition, { compromised: true });
      await untilBlockedBy(pid, 'the rotation waiting for the held position');
      // one batch on the other certstore: the logout appends to xavier's stream, the
      // acknowledgement (an inbox write) asks for the lock. Had the logout appended without the
      // lock, the batch would hold a row of xavier's stream the rotation is about to insert, and
      // wait for the lock the rotation holds: a cycle once the rotation goes on.
      await probe.send([logOut, acknowledge], actorPartition);
      await eventually(inboxOrderLockWaiters, { until: (n) => n > 0, timeoutMs: 30_000, what: "xavier's batch waiting for the inbox-order lock" });
      // A deliberate wait for a timeout, not a poll: PostgreSQL looks for a cycle once per lock
      // wait, deadlock_timeout (1 s) after it began. Past it, the batch's own look found none (the
      // rotation waits for the holder, not for the batch), so a cycle that forms on release is
      // found by the rotation's look and ends the rotation: a rotation meeting batches that were
      // already waiting, the case measured in production.
      await new Promise((resolve) => setTimeout(resolve, DEADLOCK_TIMEOUT_MS * 1.5));
      await release();
      // Neither side can answer before a cycle is broken (statements wait far longer than
      // deadlock_timeout here): once both replied, PostgreSQL has looked for one, and the side it
      // ended has rolled back (and reported the deadlock) before it ran again.
      await expectAccepted(rotation);
      await probe.replyFor(logOut.metadata.messageId as string, 60_000);
      await probe.replyFor(acknowledge.metadata.messageId as string, 60_000);
    });

    // PostgreSQL broke no deadlock (a cancelled rotation is held and retried: it would still end
    // up applied once, after throwing its work away and holding inbox writes off once more)
    expect((await deadlocksHere()) - deadlocksBefore).toBe(0);
    // the batch waited for the rotation: its logout found the session's cert invalidated, so its
    // token dead, and refused (401), its acknowledgement went through; each was answered and
    // recorded once
    expect(probe.received(logOut.metadata.messageId as string)).toEqual([
      expect.objectContaining({ ok: false, error: expect.objectContaining({ code: ERROR_CODE.unauthorized }) }),
    ]);
    expect(probe.received(acknowledge.metadata.messageId as string)).toEqual([expect.objectContaining({ ok: true })]);
    expect(probe.received(rotation)).toEqual([expect.objectContaining({ ok: true })]);
    const processed = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM processed_commands WHERE command_id = ANY($1)`, [
      [rotation, logOut.metadata.messageId, acknowledge.metadata.messageId],
    ]);
    expect(processed.rows[0]!.n).toBe(3);
    // in the log, each once: the rotation, its invalidation of xavier's cert, then the
    // acknowledgement (the rotation's invalidations of the suite's other certs aside)
    const log = await db.query<{ type: string; stream_id: string }>(
      `SELECT type, stream_id FROM events WHERE metadata->>'messageId' = ANY($1) AND (type <> 'IdCertInvalidated' OR data->>'serial' = $2) ORDER BY global_position`,
      [[rotation, logOut.metadata.messageId, acknowledge.metadata.messageId], serial],
    );
    expect(log.rows).toEqual([
      { type: 'ServerKeyRotated', stream_id: 'server' },
      { type: 'IdCertInvalidated', stream_id: `actor-${federationId}` },
      { type: 'InboxAcknowledged', stream_id: `inbox-${federationId}#${sessionId}` },
    ]);
    expect(await probe.deadLetterCount()).toBe(deadLettersBefore);
    await expectLiveEqualsRebuilt();
  });
});

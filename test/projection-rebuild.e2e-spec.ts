import { Client } from 'pg';
import { eventually } from '@p2/testing';
import { TestCluster } from './support/cluster';
import { CommandProbe, stopWatched, watchCluster } from './support/command-probe';
import { expectErrorBody, http } from './support/http';
import { sampleSum } from './support/metrics';
import { rebuildFromLog, rebuildHeldOpen, snapshotProjections } from './support/projections';
import { credentialSealKeyOf, sealedPasswordHash } from './support/sealed-credentials';

/** Short enough that a statement waiting for the rebuild is cancelled many times over while it runs. */
const STATEMENT_TIMEOUT_MS = 1000;
/** More attempts than the transport makes of a unit that fails for another reason before it
 * dead-letters the command (maxAttempts, 5). */
const ATTEMPTS_BEYOND_DEAD_LETTERING = 6;

/**
 * docs/architecture.md#rebuild and #postgres-busy: a projection rebuild holds every read-model table
 * for its whole transaction. Statements that wait for it are cancelled by statement_timeout
 * (57014): a gateway answers the read 503, not 500; a certstore holds the command and applies it
 * once the rebuild is done, exactly once, instead of dead-lettering it after five attempts.
 */
describe('a projection rebuild while the cluster serves', () => {
  let cluster: TestCluster;
  let db: Client;
  let probe: CommandProbe;

  beforeAll(async () => {
    cluster = await TestCluster.start({
      label: 'rebuildlive',
      // no cached answers or tokens: every read below goes to PostgreSQL
      env: { P2_DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS), P2_READ_CACHE_ENTRIES: '0', P2_TOKEN_CACHE_ENTRIES: '0' },
    });
    ({ db, probe } = await watchCluster(cluster));
  });

  afterAll(() => stopWatched({ probe, db, cluster }));

  it('answers reads 503 while it runs and applies a write sent meanwhile exactly once afterwards, with no dead letter', async () => {
    const register = (name: string) =>
      http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password: 'correct horse battery staple' } }, headers: { 'idempotency-key': `register-${name}` } });
    // outside the rebuild, a 503 is only a statement past the short timeout on a loaded machine: asked again
    const unlessBusy = <T extends { status: number }>(request: () => Promise<T>) => eventually(request, { until: (r) => r.status !== 503, timeoutMs: 30000, what: 'an answer other than 503' });
    expect((await unlessBusy(() => register('alice'))).status).toBe(201);
    const read = () => http('GET', `${cluster.url}/.p2/core/v1/key/actor/alice@example.com`);
    expect((await unlessBusy(read)).status).toBe(200);
    const sealKey = await credentialSealKeyOf(cluster.databaseUrl);
    const deadLettersBefore = await probe.deadLetterCount();
    const metricsUrl = `${(await cluster.certstore(0).getUrl()).replace('[::1]', '127.0.0.1')}/metrics`;
    const retried = async () => sampleSum((await http('GET', metricsUrl)).text, 'p2_commands_total', { type: 'RegisterActor', outcome: 'retried' });
    const retriedBefore = await retried();

    const rebuild = await rebuildHeldOpen(cluster.databaseUrl, cluster.keyEncryptionKey);
    let committed = false;
    try {
      expect(rebuild.replayed).toBeGreaterThan(0);
      // a read waits for the rebuild's lock until its statement is cancelled: the database is busy, not the server broken
      expectErrorBody(await read(), 503, 'P2CORE_UNAVAILABLE');
      // the gateway reads the actors table before it sends a registration: the same answer
      expectErrorBody(await register('carol'), 503, 'P2CORE_UNAVAILABLE');

      // straight on Kafka, so that the command reaches the certstore while the tables are held
      const command = probe.envelope('RegisterActor', { federationId: 'bob@example.com', localName: 'bob', sealedPasswordHash: sealedPasswordHash(sealKey, 'bob@example.com') });
      await probe.send([command]);
      // held as long as a long rebuild would run: past the attempts after which another failure is dead-lettered
      const seen = await eventually(async () => ({ retried: (await retried()) - retriedBefore, deadLetters: (await probe.deadLetterCount()) - deadLettersBefore }), {
        until: (s) => s.retried >= ATTEMPTS_BEYOND_DEAD_LETTERING || s.deadLetters > 0,
        timeoutMs: 60000,
        intervalMs: 250,
        what: 'the certstore retrying the registration while the rebuild runs',
      });
      expect(seen.deadLetters).toBe(0);

      await rebuild.commit();
      committed = true;
      const reply = await probe.replyFor(command.metadata.messageId as string, 30000);
      expect(reply).toEqual(expect.objectContaining({ ok: true }));
    } finally {
      if (!committed) await rebuild.commit();
    }

    expect((await db.query(`SELECT type FROM events WHERE stream_id = 'actor-bob@example.com'`)).rows).toEqual([{ type: 'ActorRegistered' }]);
    expect(await probe.deadLetterCount()).toBe(deadLettersBefore);
    expect((await unlessBusy(read)).status).toBe(200);
    expect((await unlessBusy(() => register('carol'))).status).toBe(201);
    // the rebuilt tables, and what was applied to them after it, equal a rebuild now
    const live = await snapshotProjections(db);
    await rebuildFromLog(cluster.databaseUrl, cluster.keyEncryptionKey);
    expect(await snapshotProjections(db)).toEqual(live);
  });
});

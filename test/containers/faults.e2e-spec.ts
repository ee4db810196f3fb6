import { Pool } from 'pg';
import { eventually } from '@p2/testing';
import { ContainerCluster, docker, pauseContainer } from '../support/containers';
import { http, type HttpResult } from '../support/http';

const REPLY_DEADLINE_MS = 2000;
/** How long a paused container stays frozen: well past the reply deadline. */
const PAUSE_MS = 3 * REPLY_DEADLINE_MS;
const REQUESTS = 24;
/** Requests are spread over the fault rather than sent at once. */
const REQUEST_SPACING_MS = 150;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** docs/architecture.md#failure, with what processes cannot show: a certstore killed outright
 * (SIGKILL, no goodbye to the consumer group), and Kafka or PostgreSQL frozen with `docker pause`
 * (connections stay open, nothing answers) for longer than the reply deadline. After each fault
 * every request was answered (201, or 503 naming its command id), every accepted registration is in
 * the event log exactly once, and the same containers serve again, none restarted. */
describe('faults with real containers (Kafka, PostgreSQL, 2 certstores, 2 gateways)', () => {
  let cluster: ContainerCluster;
  let db: Pool;
  const password = 'correct horse battery staple';

  beforeAll(async () => {
    // the load comes from one address (this host): the suite tests faults, not the per-gateway limits
    cluster = await ContainerCluster.start({ certstores: 2, gateways: 2, env: { P2_REPLY_TIMEOUT_MS: String(REPLY_DEADLINE_MS), P2_RATE_LIMITS_ENABLED: 'false' } });
    // a pool: a connection cut while PostgreSQL is frozen is replaced, and its error is heard
    db = new Pool({ connectionString: cluster.databaseUrl, max: 2 });
    db.on('error', () => undefined); // an idle connection cut by the freeze; the next query opens another
  }, 420_000);

  afterAll(async () => {
    await db?.end();
    await cluster?.stop();
  }, 120_000);

  const register = (name: string, gateway = 0): Promise<HttpResult> =>
    http('POST', `${cluster.gatewayUrls[gateway % cluster.gatewayUrls.length]}/.p2/core/v1/register`, {
      json: { actor_name: name, auth_payload: { password } },
      headers: { 'idempotency-key': `register-${name}` },
    });

  /** Sends REQUESTS registrations spread over `fault`, and checks the answers and the log after it. */
  async function registrationsThrough(prefix: string, fault: () => Promise<void>): Promise<void> {
    const pending: Promise<HttpResult>[] = [];
    const sending = (async () => {
      for (let i = 0; i < REQUESTS; i++) {
        pending.push(register(`${prefix}-${i}`, i));
        await sleep(REQUEST_SPACING_MS);
      }
    })();
    await fault();
    await sending;
    const answers = await Promise.all(pending);

    for (const answer of answers) {
      if (answer.status === 201) continue;
      // a 503 names its command, unless no command was sent: the gateway's own read before sending
      // (is the name taken?) found the database unreachable
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 503,
        body:
          answer.body?.command_id === undefined
            ? { errcode: 503, error: 'P2CORE_UNAVAILABLE', message: 'The database is not reachable at the moment; retry later.' }
            : expect.objectContaining({ errcode: 503, error: 'P2CORE_UNAVAILABLE', command_id: expect.stringMatching(/^[0-9a-f-]{36}$/) }),
      });
    }
    // the fault was felt: some request outlived the reply deadline
    expect(answers.filter((answer) => answer.status === 503).length).toBeGreaterThan(0);

    // each 503'd command is still applied, once: the retry with its Idempotency-Key gets the outcome
    for (let i = 0; i < REQUESTS; i++) {
      if (answers[i]!.status === 201) continue;
      const retried = await eventually(() => register(`${prefix}-${i}`, i + 1), { until: (r) => r.status === 201, timeoutMs: 60_000, intervalMs: 500 });
      expect(retried.body).toEqual({ fid: `${prefix}-${i}@example.com` });
    }
    const perActor = await db.query(
      `SELECT stream_id, count(*)::int AS n FROM events WHERE type = 'ActorRegistered' AND stream_id LIKE $1 GROUP BY stream_id ORDER BY stream_id`,
      [`actor-${prefix}-%`],
    );
    expect(perActor.rows).toHaveLength(REQUESTS);
    expect(perActor.rows.filter((row) => row.n !== 1)).toEqual([]);
    const actors = await db.query(`SELECT count(*)::int AS n FROM actors WHERE local_name LIKE $1`, [`${prefix}-%`]);
    expect(actors.rows[0].n).toBe(REQUESTS);

    // and a new request is served at once, by the containers that lived through the fault
    const fresh = await register(`${prefix}-after`);
    expect({ status: fresh.status, body: fresh.body }).toEqual({ status: 201, body: { fid: `${prefix}-after@example.com` } });
  }

  /** Holds `container` frozen for PAUSE_MS, once the load is under way. */
  async function pauseDuringLoad(containerId: string): Promise<void> {
    await sleep(3 * REQUEST_SPACING_MS);
    await pauseContainer(containerId);
    try {
      await sleep(PAUSE_MS);
    } finally {
      docker('unpause', containerId);
    }
  }

  it('a certstore killed mid-load (SIGKILL): its partitions move to the survivor; nothing lost, nothing doubled', async () => {
    await registrationsThrough('kill', async () => {
      await eventually(async () => (await db.query(`SELECT count(*)::int AS n FROM events WHERE stream_id LIKE 'actor-kill-%'`)).rows[0].n as number, {
        until: (n) => n >= 3,
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      docker('kill', cluster.certstores[0]!.getId());
    });
    expect(docker('inspect', '--format', '{{.State.Running}}', cluster.certstores[1]!.getId())).toBe('true');
  }, 240_000);

  it('Kafka frozen (docker pause) longer than the reply deadline: 503s while frozen, then everything once', async () => {
    await registrationsThrough('kafkapause', () => pauseDuringLoad(cluster.kafka.getId()));
  }, 240_000);

  it('PostgreSQL frozen (docker pause) longer than the reply deadline: 503s while frozen, then everything once', async () => {
    await registrationsThrough('pgpause', () => pauseDuringLoad(cluster.postgres.getId()));
  }, 240_000);
});

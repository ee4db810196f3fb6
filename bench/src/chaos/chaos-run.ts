/**
 * `npm run chaos`: a bounded mixed write load on a cluster of two gateways and two certstores
 * (separate processes, started by scripts/chaos.mjs with a Kafka broker and a PostgreSQL server of
 * their own), and in turn one fault per scenario. For each scenario: requests sent and how they were
 * answered, accepted writes lost, writes applied twice, dead letters, seconds until full throughput
 * again, and whether the read models equal a rebuild from the log.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { KEY_PACKAGE_LIMITS } from '@p2/contracts';
import { sqlOf } from '@p2/event-store';
import { dataSourceOptions } from '@p2/platform';
import { DataKeyVault, PROJECTIONS, rebuildProjections } from '@p2/read-models';
import { freshCsr, freshKeyMaterial, freshKeyPackage, serialOf } from '../fixtures/inputs';
import { ChaosClient, Tally, type Outcome } from './chaos-client';

export const SCENARIOS = ['certstore SIGKILL', 'gateway SIGKILL', 'Kafka restart', 'PostgreSQL restart'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** What scripts/chaos.mjs does to the cluster: `inject` is the fault, `restore` (after the load)
 * brings the cluster back to two gateways and two certstores for the next scenario. */
export interface Fault {
  inject(): Promise<void>;
  restore?(): Promise<void>;
}

export interface ChaosOptions {
  readonly urls: readonly string[];
  readonly databaseUrl: string;
  /** the cluster's P2_KEY_ENCRYPTION_KEY (64 hex digits): the rebuild opens the sealed key material with it */
  readonly keyEncryptionKey: string;
  readonly kafkaBrokers: readonly string[];
  readonly deadLetterTopic: string;
  readonly faults: Readonly<Record<ScenarioName, Fault>>;
  /** a short run (the smoke test in npm test): fewer actors, workers and seconds */
  readonly smoke: boolean;
  readonly log: (line: string) => void;
}

export interface ScenarioFigures {
  readonly scenario: ScenarioName;
  readonly requests: number;
  readonly ok: number;
  readonly unavailable: number;
  readonly unavailableBeforeSend: number;
  readonly other: number;
  readonly otherServerErrors: number;
  readonly noAnswer: number;
  readonly acceptedWrites: number;
  /** writes whose outcome the clients never learnt (retried for the whole retry window) */
  readonly unknownWrites: number;
  readonly lost: number;
  readonly doubled: number;
  readonly deadLettered: number;
  /** seconds from the fault until the completed writes per second are back to 80 % of before; null: not within the run */
  readonly recoverySeconds: number | null;
  readonly faultSeconds: number;
  readonly projectionsEqualRebuild: boolean;
  readonly samples: readonly string[];
}

interface Shape {
  readonly actors: number;
  readonly sessionsPerActor: number;
  readonly workers: number;
  /** load before the fault, seconds */
  readonly before: number;
  /** load after the fault returned, seconds */
  readonly after: number;
  readonly retryWindowMs: number;
}

const FULL: Shape = { actors: 32, sessionsPerActor: 6, workers: 16, before: 10, after: 25, retryWindowMs: 300_000 };
const SMOKE: Shape = { actors: 8, sessionsPerActor: 3, workers: 6, before: 3, after: 6, retryWindowMs: 300_000 };
const PASSWORD = 'chaos correct horse battery staple';

interface Actor {
  readonly name: string;
  readonly fid: string;
  readonly tokens: string[];
  /** serials without key material yet */
  readonly freeSerials: string[];
  /** KeyPackages uploaded (accepted or of unknown outcome) per session, by the index of its token */
  readonly uploads: number[];
}

/** The load never fills a session's KeyPackage stock: a full session's 413 is a correct refusal, but
 * it would turn writes into refusals and take them out of the lost/doubled count. */
const UPLOADS_PER_SESSION = KEY_PACKAGE_LIMITS.stockPerSession - 20;

/** What one scenario's clients saw accepted (or never learnt), to look for in the log. */
interface Tracked {
  readonly keyPackages: Map<string, 'accepted' | 'unknown'>;
  readonly keyMaterial: Map<string, 'accepted' | 'unknown'>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runChaos(options: ChaosOptions): Promise<ScenarioFigures[]> {
  const shape = options.smoke ? SMOKE : FULL;
  const client = new ChaosClient(options.urls, shape.retryWindowMs);
  const actors = await setUp(client, shape, options.log);
  const figures: ScenarioFigures[] = [];
  for (const scenario of SCENARIOS) {
      options.log(`scenario: ${scenario}`);
      const deadBefore = await deadLetters(options);
      const tracked: Tracked = { keyPackages: new Map(), keyMaterial: new Map() };
      const { tally, faultAt, faultDoneAt, faultSeconds } = await runLoad(client, actors, shape, tracked, options.faults[scenario], options.log);
      await options.faults[scenario].restore?.();
      await settle(options.databaseUrl);
      const { lost, doubled } = await checkLog(options.databaseUrl, tracked);
      figures.push({
        scenario,
        requests: tally.sent,
        ok: tally.ok,
        unavailable: tally.unavailable,
        unavailableBeforeSend: tally.unavailableBeforeSend,
        other: tally.other,
        otherServerErrors: tally.otherServerErrors,
        noAnswer: tally.noAnswer,
        acceptedWrites: [...tracked.keyPackages.values(), ...tracked.keyMaterial.values()].filter((v) => v === 'accepted').length,
        unknownWrites: [...tracked.keyPackages.values(), ...tracked.keyMaterial.values()].filter((v) => v === 'unknown').length,
        lost,
        doubled,
        deadLettered: (await deadLetters(options)) - deadBefore,
        recoverySeconds: recovery(tally.perSecond, faultAt, faultDoneAt),
        faultSeconds,
        projectionsEqualRebuild: await projectionsEqualRebuild(options.databaseUrl, Buffer.from(options.keyEncryptionKey, 'hex')),
        samples: tally.samples,
      });
      options.log(`${scenario}: ${JSON.stringify(figures[figures.length - 1])}`);
  }
  return figures;
}

/** Registers the actors and opens their sessions (retried through faults of earlier runs: none here). */
async function setUp(client: ChaosClient, shape: Shape, log: (line: string) => void): Promise<Actor[]> {
  log(`setup: ${shape.actors} actors with ${shape.sessionsPerActor} sessions each`);
  const tally = new Tally(Date.now());
  const run = Math.random().toString(36).slice(2, 8);
  const must = (outcome: Outcome, what: string): unknown => {
    if (outcome.kind !== 'accepted') throw new Error(`setup: ${what} failed (${outcome.kind === 'refused' ? outcome.status : 'no answer'}): ${tally.samples.join('; ')}`);
    return outcome.body;
  };
  const actors: Actor[] = [];
  await Promise.all(
    Array.from({ length: shape.actors }, async (_, i) => {
      const name = `chaos${run}a${i}`;
      const { fid } = must(await client.write({ method: 'POST', path: '/register', json: { actor_name: name, auth_payload: { password: PASSWORD } } }, tally, i), `registering ${name}`) as { fid: string };
      const actor: Actor = { name, fid, tokens: [], freeSerials: [], uploads: [] };
      for (let s = 0; s < shape.sessionsPerActor; s++) {
        const body = must(
          await client.write({ method: 'POST', path: '/session/trust', json: { actor_name: name, csr: freshCsr(fid, `s${s}`), auth_payload: { password: PASSWORD } } }, tally, i),
          `opening a session of ${name}`,
        ) as { token: string; id_cert: string };
        actor.tokens.push(body.token);
        actor.uploads.push(0);
        actor.freeSerials.push(serialOf(body.id_cert));
      }
      actors.push(actor);
    }),
  );
  return actors;
}

/** The load of one scenario: `workers` clients in closed loops over their actors; the fault is
 * injected after `before` seconds, the load ends `after` seconds after it returned. */
async function runLoad(client: ChaosClient, actors: readonly Actor[], shape: Shape, tracked: Tracked, fault: Fault, log: (line: string) => void) {
  const startedAt = Date.now();
  const tally = new Tally(startedAt);
  let stopAt = Number.POSITIVE_INFINITY;
  const worker = async (w: number): Promise<void> => {
    const mine = actors.filter((_, i) => i % shape.workers === w);
    for (let n = 0; Date.now() < stopAt; n++) {
      const actor = mine[n % mine.length]!;
      // every session of the actor in turn (n alone would skip some when the counts share a factor)
      const turn = Math.floor(n / mine.length) % actor.tokens.length;
      const token = actor.tokens[turn]!;
      const roll = Math.random();
      const uploader = sessionWithRoom(actor, turn);
      if (roll >= 0.1 && roll < 0.25 && actor.freeSerials.length > 0) {
        const serial = actor.freeSerials.pop()!;
        const id = `${actor.fid}/${serial}`;
        const outcome = await client.write({ method: 'POST', path: '/session/keymaterial', token, json: freshKeyMaterial(serial) }, tally, w);
        if (outcome.kind !== 'refused') tracked.keyMaterial.set(id, outcome.kind);
      } else if (roll >= 0.1 && uploader !== undefined) {
        const keyPackage = freshKeyPackage();
        actor.uploads[uploader]!++;
        const outcome = await client.write({ method: 'POST', path: '/keypackage/@me', token: actor.tokens[uploader], json: [keyPackage] }, tally, w);
        if (outcome.kind !== 'refused') tracked.keyPackages.set(keyPackage.init_key, outcome.kind);
      } else {
        await client.read({ method: 'GET', path: '/session/keymaterial', token }, tally, w);
      }
    }
  };
  const workers = Array.from({ length: Math.min(shape.workers, actors.length) }, (_, w) => worker(w));
  await sleep(shape.before * 1000);
  const faultAt = Date.now() - startedAt;
  log(`  fault at ${(faultAt / 1000).toFixed(1)} s`);
  await fault.inject();
  const faultDoneAt = Date.now() - startedAt;
  const faultSeconds = (faultDoneAt - faultAt) / 1000;
  log(`  fault done after ${faultSeconds.toFixed(1)} s; load for ${shape.after} s more`);
  stopAt = Date.now() + shape.after * 1000;
  await Promise.all(workers);
  return { tally, faultAt, faultDoneAt, faultSeconds };
}

/** The session of this turn, or the next one of the actor whose stock has room for an upload. */
function sessionWithRoom(actor: Actor, turn: number): number | undefined {
  for (let i = 0; i < actor.tokens.length; i++) {
    const session = (turn + i) % actor.tokens.length;
    if (actor.uploads[session]! < UPLOADS_PER_SESSION) return session;
  }
  return undefined;
}

/** Seconds from the end of the fault (the process killed, the server back) until the completed
 * writes per second stay at 80 % or more of those before the fault for the rest of the run; null
 * when the last full second of the run is still below. A dip that starts later than the fault's
 * end (partitions move only after the session timeout) counts. */
export function recovery(perSecond: readonly number[], faultAtMs: number, faultDoneAtMs: number): number | null {
  const before = perSecond.slice(1, Math.floor(faultAtMs / 1000));
  if (before.length === 0) return null;
  const baseline = before.reduce((a, b) => a + b, 0) / before.length;
  // the last second is cut short by the end of the load
  const full = perSecond.slice(0, -1);
  const doneSecond = Math.floor(faultDoneAtMs / 1000);
  let lastLow = -1;
  for (let s = Math.floor(faultAtMs / 1000); s < full.length; s++) if (full[s]! < 0.8 * baseline) lastLow = s;
  if (lastLow === full.length - 1) return null;
  return Math.max(0, lastLow + 1 - doneSecond);
}

/** Waits until the event log stands still (no command in flight or redelivered). */
async function settle(databaseUrl: string): Promise<void> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    let last = -1;
    for (let stable = 0; stable < 3; ) {
      const { rows } = await db.query('SELECT coalesce(max(global_position), 0)::text AS p, (SELECT count(*) FROM processed_commands)::text AS c FROM events');
      const now = Number(rows[0].p) + Number(rows[0].c) * 1e-9;
      stable = now === last ? stable + 1 : 0;
      last = now;
      await sleep(1000);
    }
  } finally {
    await db.end();
  }
}

/** Each tracked write in the log: accepted ones exactly once (0 = lost), any at most once. */
async function checkLog(databaseUrl: string, tracked: Tracked): Promise<{ lost: number; doubled: number }> {
  const db = new Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const initKeys = new Map<string, number>();
    const stored = new Map<string, number>();
    const { rows } = await db.query(`SELECT type, data FROM events WHERE type IN ('KeyPackagesAdded', 'KeyMaterialStored')`);
    for (const { type, data } of rows as { type: string; data: { federationId: string; serial: string; keyPackages?: { initKey: string }[] } }[]) {
      if (type === 'KeyPackagesAdded') for (const kp of data.keyPackages ?? []) initKeys.set(kp.initKey, (initKeys.get(kp.initKey) ?? 0) + 1);
      else stored.set(`${data.federationId}/${data.serial}`, (stored.get(`${data.federationId}/${data.serial}`) ?? 0) + 1);
    }
    let lost = 0;
    let doubled = 0;
    for (const [map, counts] of [
      [tracked.keyPackages, initKeys],
      [tracked.keyMaterial, stored],
    ] as const) {
      for (const [id, outcome] of map) {
        const n = counts.get(id) ?? 0;
        if (outcome === 'accepted' && n === 0) lost++;
        if (n > 1) doubled++;
      }
    }
    return { lost, doubled };
  } finally {
    await db.end();
  }
}

/** Messages on the dead-letter topic so far. */
async function deadLetters(options: ChaosOptions): Promise<number> {
  const admin = new Kafka({ clientId: 'p2-chaos', brokers: [...options.kafkaBrokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(options.deadLetterTopic);
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Rebuilds the read models from the log inside a transaction that is rolled back, and compares
 * them with the live ones: the running cluster never sees the rebuild. */
async function projectionsEqualRebuild(databaseUrl: string, keyEncryptionKey: Buffer): Promise<boolean> {
  const dataSource = new DataSource(dataSourceOptions(databaseUrl));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction('REPEATABLE READ');
    const snapshot = async () => {
      const tables: Record<string, string[]> = {};
      for (const table of PROJECTIONS.flatMap((p) => p.tables)) {
        tables[table] = ((await runner.query(`SELECT * FROM ${table}`)) as unknown[]).map((row) => JSON.stringify(row)).sort();
      }
      return JSON.stringify(tables);
    };
    const live = await snapshot();
    await rebuildProjections(sqlOf(runner.manager), new DataKeyVault(() => keyEncryptionKey));
    const rebuilt = await snapshot();
    return live === rebuilt;
  } finally {
    if (runner.isTransactionActive) await runner.rollbackTransaction();
    await runner.release();
    await dataSource.destroy();
  }
}

/** The figures as a markdown table, one row per scenario. */
export function chaosTable(figures: readonly ScenarioFigures[]): string {
  const head = '| scenario | requests | 2xx | 503 | other | 5xx other than 503 | no answer | 503 share | writes accepted | lost | applied twice | dead letters | outcome unknown | fault took | full throughput again after | projections = rebuild |';
  const rule = `|${'---|'.repeat(16)}`;
  const rows = figures.map((f) =>
    [
      f.scenario,
      f.requests,
      f.ok,
      f.unavailable,
      f.other,
      f.otherServerErrors,
      f.noAnswer,
      `${((100 * f.unavailable) / Math.max(1, f.requests)).toFixed(2)} %`,
      f.acceptedWrites,
      f.lost,
      f.doubled,
      f.deadLettered,
      f.unknownWrites,
      `${f.faultSeconds.toFixed(1)} s`,
      f.recoverySeconds === null ? 'not within the run' : `${f.recoverySeconds} s`,
      f.projectionsEqualRebuild ? 'yes' : 'NO',
    ].join(' | '),
  );
  return [head, rule, ...rows.map((r) => `| ${r} |`)].join('\n');
}

/** The requirements a run must meet; each failure as a line (empty: all met). Timings are figures, never requirements. */
export function chaosFailures(figures: readonly ScenarioFigures[]): string[] {
  const failures: string[] = [];
  for (const f of figures) {
    if (f.lost > 0) failures.push(`${f.scenario}: ${f.lost} accepted writes lost`);
    if (f.doubled > 0) failures.push(`${f.scenario}: ${f.doubled} writes applied twice`);
    if (f.otherServerErrors > 0) failures.push(`${f.scenario}: ${f.otherServerErrors} answers 5xx other than 503 (${f.samples.join('; ')})`);
    // every request of the load is valid, and none fills a stock: a 4xx refused what should have been done
    if (f.other > f.otherServerErrors) failures.push(`${f.scenario}: ${f.other - f.otherServerErrors} valid requests refused (${f.samples.join('; ')})`);
    if (f.deadLettered > 0) failures.push(`${f.scenario}: ${f.deadLettered} commands dead-lettered`);
    if (f.unknownWrites > 0) failures.push(`${f.scenario}: ${f.unknownWrites} writes never answered within the retry window`);
    if (!f.projectionsEqualRebuild) failures.push(`${f.scenario}: the read models differ from a rebuild`);
  }
  return failures;
}

/** The < 1 % requirement of a certstore crash: a share, measured only in full runs (a smoke run is too short for a share to mean anything). */
export function certstoreCrashShareFailure(figures: readonly ScenarioFigures[]): string | undefined {
  const f = figures.find((x) => x.scenario === 'certstore SIGKILL');
  if (!f) return undefined;
  const share = f.unavailable / Math.max(1, f.requests);
  return share < 0.01 ? undefined : `certstore SIGKILL: ${(100 * share).toFixed(2)} % of requests answered 503 (at most 1 % allowed)`;
}

/**
 * The measured phases: for each, the route, what bounds it (its ceiling), and how a cell's
 * inputs are prepared (untimed) and accounted for afterwards, so that no write input is used twice.
 */
import type { PhaseName } from '../bench-options';
import { API_PREFIX } from '../fixtures/bench-api';
import type { BenchSession, BenchWorld } from '../fixtures/bench-world';
import { freshCsr, freshKeyMaterial, freshKeyPackage, serialOf } from '../fixtures/inputs';
import type { LoadRequest } from '../load/load-job';

/** What a phase is compared with: scrypt (password check per request), PostgreSQL commits (a
 * write through the certstore), or the bare HTTP server (a read). */
export type Bound = 'scrypt' | 'commits' | 'http';

/** How many inputs a cell gets: `scrypt` sized from the scrypt ceiling, `cheap` from the commit
 * and HTTP ceilings (inputs cost nothing to make), `costly` from the simple-write rate measured so
 * far (inputs cost a session each), `reads` cycles a short list. */
export type Sizing = 'scrypt' | 'cheap' | 'costly' | 'reads';

export interface CellPlan {
  readonly world: BenchWorld;
  readonly connections: number;
  /** how many requests the cell may send at most */
  readonly budget: number;
}

export interface PreparedCell {
  readonly requests: LoadRequest[];
  /** Called after the cell with how many entries were used and the captured answers. */
  settle?(used: number, captured: readonly (readonly [number, string])[]): void;
}

export interface Phase {
  readonly name: PhaseName;
  readonly route: string;
  readonly bound: Bound;
  readonly sizing: Sizing;
  readonly okStatuses: readonly number[];
  /** the answers are needed afterwards (tokens, certs, fids) */
  readonly capture: boolean;
  prepare(plan: CellPlan): Promise<PreparedCell>;
}

const json = (token?: string): Record<string, string> => ({
  'content-type': 'application/json',
  ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
});

const withBody = (method: 'POST' | 'PUT', path: string, body: unknown, token?: string): LoadRequest => ({
  method,
  path: `${API_PREFIX}${path}`,
  headers: json(token),
  body: JSON.stringify(body),
});
const post = (path: string, body: unknown, token?: string): LoadRequest => withBody('POST', path, body, token);

/** Reads cycle over this many actors. */
const READ_TARGETS = 4;
/** Writes of one actor are handled in order (one Kafka key): a cell's writes go to at least one
 * actor per connection. */
const writers = (connections: number): number => connections;
/** Claims per target actor and cell at most (a session holds at most 500 unused KeyPackages). */
const CLAIMS_PER_TARGET = 400;

export const PHASES: readonly Phase[] = [
  {
    name: 'register',
    route: 'POST /register',
    bound: 'scrypt',
    sizing: 'scrypt',
    okStatuses: [201],
    capture: true,
    async prepare({ world, budget }) {
      const names = Array.from({ length: budget }, () => world.newActorName());
      return {
        requests: names.map((name) => post('/register', { actor_name: name, auth_payload: { password: world.password } })),
        settle(_used, captured) {
          // the new actors are where the open phase opens sessions
          for (const [index, body] of captured) world.fresh.push(world.actor(names[index]!, (JSON.parse(body) as { fid: string }).fid));
        },
      };
    },
  },
  {
    name: 'open',
    route: 'POST /session/trust',
    bound: 'scrypt',
    sizing: 'scrypt',
    okStatuses: [201],
    capture: true,
    async prepare({ world, budget }) {
      const slots = (await world.openSlots(budget)).map((actor) => ({ actor, sessionId: world.newSessionId() }));
      return {
        requests: slots.map(({ actor, sessionId }) =>
          post('/session/trust', { actor_name: actor.name, csr: freshCsr(actor.fid, sessionId), auth_payload: { password: world.password } }),
        ),
        settle(used, captured) {
          for (const slot of slots.slice(0, used)) slot.actor.openAttempts++;
          for (const [index, body] of captured) {
            const { actor, sessionId } = slots[index]!;
            const { token, id_cert } = JSON.parse(body) as { token: string; id_cert: string };
            world.rotatable.push(world.adoptSession(actor, sessionId, token, id_cert));
          }
        },
      };
    },
  },
  {
    name: 'rotate',
    route: 'POST /session/idcert',
    bound: 'scrypt',
    sizing: 'scrypt',
    okStatuses: [201],
    capture: true,
    async prepare({ world, budget }) {
      const sessions = await world.takeRotatable(budget);
      return {
        requests: sessions.map((s) => ({
          ...post('/session/idcert', { csr: freshCsr(s.actor.fid, s.sessionId) }, s.token),
          headers: { ...json(s.token), 'x-p2-sensitive-solution': world.password },
        })),
        settle(used, captured) {
          // a rotation that was sent but not answered may have happened: its session's token is unknown
          world.rotatable.push(...sessions.slice(used));
          for (const [index, body] of captured) {
            const session = sessions[index]!;
            const { token, id_cert } = JSON.parse(body) as { token: string; id_cert: string };
            session.token = token;
            session.serial = serialOf(id_cert);
            world.rotatable.push(session);
          }
        },
      };
    },
  },
  {
    name: 'kp-upload',
    route: 'POST /keypackage/@me',
    bound: 'commits',
    sizing: 'cheap',
    okStatuses: [201],
    capture: false,
    async prepare({ world, budget, connections }) {
      await world.ensurePoolActors(writers(connections));
      const slots = await world.keyPackageSlots(budget);
      return {
        requests: slots.map((s) => post('/keypackage/@me', [freshKeyPackage()], s.token)),
        settle(used) {
          for (const s of slots.slice(0, used)) s.unusedKeyPackages++;
        },
      };
    },
  },
  {
    name: 'lr-replace',
    route: 'PUT /keypackage_lr',
    bound: 'commits',
    sizing: 'cheap',
    okStatuses: [204],
    capture: false,
    async prepare({ world, budget, connections }) {
      await world.ensurePoolActors(writers(connections));
      const sessions = world.poolSessions();
      return {
        requests: Array.from({ length: budget }, (_, i) => withBody('PUT', '/keypackage_lr', freshKeyPackage(), sessions[i % sessions.length]!.token)),
      };
    },
  },
  {
    name: 'kp-claim',
    route: 'GET /keypackage/:fid',
    bound: 'commits',
    sizing: 'costly',
    okStatuses: [200],
    capture: false,
    async prepare({ world, budget, connections }) {
      const targets = await world.ensureTargets(Math.max(connections, Math.ceil(budget / CLAIMS_PER_TARGET)));
      const perTarget = Math.ceil(budget / targets.length);
      await world.stockTargets(targets, perTarget);
      await world.ensurePoolActors(1);
      const requesters = world.poolSessions();
      const claims: BenchSession[] = [];
      for (let round = 0; round < perTarget; round++) for (const target of targets) claims.push(target.sessions[0]!);
      return {
        requests: claims.map((target, i) => ({
          method: 'GET',
          path: `${API_PREFIX}/keypackage/${target.actor.fid}`,
          headers: json(requesters[i % requesters.length]!.token),
        })),
        settle(used) {
          // each claim takes one KeyPackage of the target's only session, answered or not
          for (const target of claims.slice(0, used)) target.unusedKeyPackages--;
        },
      };
    },
  },
  {
    name: 'keymaterial',
    route: 'POST /session/keymaterial',
    bound: 'commits',
    sizing: 'costly',
    okStatuses: [201],
    capture: false,
    async prepare({ world, budget, connections }) {
      await world.ensurePoolActors(writers(connections));
      const sessions = await world.keyMaterialSessions(budget);
      return {
        requests: sessions.map((s) => post('/session/keymaterial', freshKeyMaterial(s.serial), s.token)),
        settle(used) {
          for (const s of sessions.slice(0, used)) s.keyMaterialStored = true;
        },
      };
    },
  },
  {
    name: 'inbox',
    route: 'GET /events',
    bound: 'commits',
    sizing: 'costly',
    // 204 would mean the session had nothing to fetch: no acknowledgement, not the measured write
    okStatuses: [200],
    capture: false,
    async prepare({ world, budget, connections }) {
      await world.ensurePoolActors(writers(connections));
      const sessions = await world.inboxSessions(budget);
      return {
        requests: sessions.map((s) => ({ method: 'GET', path: `${API_PREFIX}/events`, headers: json(s.token) })),
        settle(used) {
          for (const s of sessions.slice(0, used)) s.inboxPending = 0;
        },
      };
    },
  },
  ...(['idcert', 'key'] as const).map(
    (kind): Phase => ({
      name: `${kind}-actor`,
      route: `GET /${kind}/actor/:fid`,
      bound: 'http',
      sizing: 'reads',
      okStatuses: [200],
      capture: false,
      async prepare({ world }) {
        const targets = await world.ensureTargets(READ_TARGETS);
        return { requests: targets.map((t) => ({ method: 'GET', path: `${API_PREFIX}/${kind}/actor/${t.fid}` })) };
      },
    }),
  ),
  ...(['key', 'idcert'] as const).map(
    (kind): Phase => ({
      name: `${kind}-server`,
      route: `GET /${kind}/server`,
      bound: 'http',
      sizing: 'reads',
      okStatuses: [200],
      capture: false,
      async prepare() {
        return { requests: [{ method: 'GET', path: `${API_PREFIX}/${kind}/server` }] };
      },
    }),
  ),
];

import { foreignServerDecider, type ForeignServerCommand, type ForeignServerState } from '../src';
import { prng } from '../../polyproto/test/fixtures/prng';
import { expectAcceptedAndRefused, stepAgainstModel, type ModelExpectation } from './model-step';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

/** A root of the domain: put in use at `since`, which it starts a little before. */
interface DomainRoot {
  readonly serial: string;
  readonly notBefore: number;
  readonly since: number;
}

/**
 * The roots of one foreign domain written the plain way (docs/protocol.md#foreign-invalidation):
 * the domain rotates its key now and then, each root starting after the one before; this server
 * records the roots it is told of and the current one. Honest answers — the domain's root now,
 * named current, and its root at an earlier time, asked right after it as the verifier does for an
 * older cert — are always taken. A replayed answer (a restored backup, an old answer sent again)
 * names current one of the domain's older roots this server has recorded: refused exactly when
 * this server has seen a root current that started after it, taken otherwise (this server knows
 * nothing newer). The decider, run on the fold of its own events, must refuse exactly what the
 * model refuses, with the same code, and leave the same roots and current root.
 */
class Model {
  readonly recorded = new Set<string>();
  current: string | undefined;
  /** the latest start of a root seen current here */
  newestCurrentStart = -Infinity;

  expect(command: ForeignServerCommand, replayed: boolean): ModelExpectation {
    const start = Date.parse(command.root.notBefore);
    if (replayed && start < this.newestCurrentStart) return 'P2CORE_NOT_FEDERATED';
    return () => {
      this.recorded.add(command.root.serial);
      if (!command.current) return;
      this.current = command.root.serial;
      this.newestCurrentStart = Math.max(this.newestCurrentStart, start);
    };
  }
}

describe('foreign server decider against a plain model, over random histories of rotations and replays', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: 300 answers, the domain rotating its key now and then', (seed) => {
    const rng = prng(seed);
    const model = new Model();
    let state: ForeignServerState = foreignServerDecider.initialState();
    // twenty roots, put in use 2 to 12 hours apart (about as long as a history lasts), each starting
    // up to an hour before its use
    const roots: DomainRoot[] = [];
    let since = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 20; i++) {
      roots.push({ serial: String(100 + i), notBefore: since - rng.int(HOUR), since });
      since += (2 + rng.int(11)) * HOUR;
    }
    const rootAt = (t: number) => roots.filter((r) => r.since <= t).pop()!;
    // this server first hears of the domain after zero to three rotations
    let now = roots[rng.int(4)]!.since + rng.int(HOUR);
    const answer = (root: DomainRoot, current: boolean): ForeignServerCommand => ({
      type: 'CacheForeignServerCert',
      domain: 'a.example',
      root: { serial: root.serial, certPem: `PEM ${root.serial}`, publicKey: `KEY ${root.serial}`, notBefore: new Date(root.notBefore).toISOString(), notAfter: '2027-01-01T00:00:00.000Z' },
      current,
      cacheUntil: new Date(now + 10 * MINUTE),
      at: new Date(now),
    });
    const outcomes = new Map<string, number>();
    const replays = { taken: 0, refused: 0 };
    let step = 0;
    const decide = (command: ForeignServerCommand, replayed: boolean) => {
      const expected = model.expect(command, replayed);
      if (replayed) replays[typeof expected === 'string' ? 'refused' : 'taken']++;
      state = stepAgainstModel(foreignServerDecider, state, command, expected, step++, outcomes);
      expect({ step, current: state.currentSerial, roots: Object.keys(state.roots).sort() }).toEqual({ step, current: model.current, roots: [...model.recorded].sort() });
    };
    while (step < 300) {
      now += rng.int(8) === 0 ? rng.int(6 * HOUR) : rng.int(30 * MINUTE);
      const domainNow = rootAt(now);
      const older = roots.filter((r) => r.since < domainNow.since && model.recorded.has(r.serial));
      const kind = rng.int(3);
      if (kind === 2 && older.length > 0) {
        // half the time the root this server still holds as current, when the domain moved on since it asked
        const held = older.find((r) => r.serial === model.current);
        decide(answer(held && rng.int(2) === 0 ? held : rng.pick(older), true), true);
      } else {
        // a sign-in or the refresher: the current root, then, for a cert of an earlier time, the root then
        decide(answer(domainNow, true), false);
        if (kind === 1) decide(answer(rootAt(roots[0]!.since + rng.int(now - roots[0]!.since + 1)), false), false);
      }
    }
    // the histories reach both a taken and a refused answer, and replays of both kinds: of a root
    // this server still takes as current, and of one it has seen the domain move past
    expectAcceptedAndRefused(outcomes, ['CacheForeignServerCert']);
    expect({ taken: replays.taken > 0, refused: replays.refused > 0 }).toEqual({ taken: true, refused: true });
  });
});

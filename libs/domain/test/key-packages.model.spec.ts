import type { KeyPackageData } from '@p2/contracts';
import { DomainError, KEY_PACKAGE_LIMITS, keyPackagesDecider, type KeyPackagesCommand, type KeyPackagesEvent, type KeyPackagesState } from '../src';
import { prng } from '../../polyproto/test/fixtures/prng';

const at = new Date('2026-01-01T00:00:00Z');
const fid = 'alice@example.com';
const kp = (initKey: string): KeyPackageData => ({ protocolVersion: 'mls10', cipherSuite: '1', initKey, leafNode: 'TEVBRg==', extensions: [] });

/**
 * The KeyPackage rules written the plain way, as a list of everything stored (docs/protocol.md#key-packages):
 * an upload needs the session's cert to be valid and init keys never seen on the server; a claim
 * hands out, per active session in order, the oldest regular package of the session's current cert,
 * else its last resort if bound to that cert. The decider keeps only what is left to hand out and is
 * run on the fold of its own events; both must agree on every step of long random histories.
 */
class Model {
  readonly sessions = new Map<string, { serial: string; active: boolean }>();
  readonly everStored = new Set<string>();
  readonly unclaimed = new Map<string, string[]>();
  readonly lastResort = new Map<string, { serial: string; initKey: string; used: boolean }>();
  readonly claimed = new Set<string>();
  private nextSerial = 1;

  constructor(sessionIds: readonly string[]) {
    for (const id of sessionIds) this.open(id);
  }

  /** A new cert for the session (a rotation, or a session opened again under the same ID). */
  open(sessionId: string): void {
    this.sessions.set(sessionId, { serial: String(this.nextSerial++), active: true });
  }

  /** Expected events, or the code of the expected refusal. */
  expect(command: KeyPackagesCommand): KeyPackagesEvent[] | string {
    switch (command.type) {
      case 'AddKeyPackages': {
        const keys = command.keyPackages.map((p) => p.initKey);
        if (!command.sessionActive) return 'P2CORE_UNAUTHORIZED';
        if (keys.length === 0) return 'P2CORE_MALFORMED_REQUEST';
        if (keys.length > KEY_PACKAGE_LIMITS.perRequest) return 'P2CORE_KEY_PACKAGE_LIMIT';
        if (new Set(keys).size !== keys.length || keys.some((k) => this.everStored.has(k))) return 'P2CORE_DUPLICATE_INIT_KEY';
        if ((this.unclaimed.get(command.session.serial)?.length ?? 0) + keys.length > KEY_PACKAGE_LIMITS.stockPerSession) return 'P2CORE_KEY_PACKAGE_LIMIT';
        return [{ type: 'KeyPackagesAdded', data: { federationId: fid, ...command.session, keyPackages: command.keyPackages, addedAt: at.toISOString() } }];
      }
      case 'ReplaceLastResortKeyPackage': {
        if (!command.sessionActive) return 'P2CORE_UNAUTHORIZED';
        if (this.everStored.has(command.keyPackage.initKey)) return 'P2CORE_DUPLICATE_INIT_KEY';
        return [{ type: 'LastResortKeyPackageReplaced', data: { federationId: fid, ...command.session, keyPackage: command.keyPackage, replacedAt: at.toISOString() } }];
      }
      case 'ClaimKeyPackages': {
        const events: KeyPackagesEvent[] = [];
        // the packages handed out, in order, until one would take the answer past the byte budget
        // (each counts its size plus 512 bytes; the first always goes)
        let bytes = 0;
        const fits = (initKey: string) => {
          bytes += command.packageBytes[initKey]! + 512;
          return events.length === 0 || bytes <= KEY_PACKAGE_LIMITS.claimBytes;
        };
        for (const { sessionId, serial } of command.activeSessions) {
          const next = this.unclaimed.get(serial)?.[0];
          const lastResort = this.lastResort.get(sessionId);
          const base = { federationId: fid, sessionId, serial, requestedBy: 'bob@example.com' };
          if (next !== undefined) {
            if (!fits(next)) break;
            events.push({ type: 'KeyPackageClaimed', data: { ...base, initKey: next, claimedAt: at.toISOString() } });
          } else if (lastResort?.serial === serial) {
            if (!fits(lastResort.initKey)) break;
            events.push({ type: 'LastResortKeyPackageServed', data: { ...base, initKey: lastResort.initKey, previouslyServed: lastResort.used, servedAt: at.toISOString() } });
          }
        }
        return events;
      }
    }
  }

  /** How many of `sessions` have a package to hand out (what a claim without a budget would answer). */
  servable(sessions: readonly { sessionId: string; serial: string }[]): number {
    return sessions.filter(({ sessionId, serial }) => (this.unclaimed.get(serial)?.length ?? 0) > 0 || this.lastResort.get(sessionId)?.serial === serial).length;
  }

  apply(events: readonly KeyPackagesEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'KeyPackagesAdded':
          for (const { initKey } of event.data.keyPackages) this.everStored.add(initKey);
          this.unclaimed.set(event.data.serial, [...(this.unclaimed.get(event.data.serial) ?? []), ...event.data.keyPackages.map((p) => p.initKey)]);
          break;
        case 'LastResortKeyPackageReplaced':
          this.everStored.add(event.data.keyPackage.initKey);
          this.lastResort.set(event.data.sessionId, { serial: event.data.serial, initKey: event.data.keyPackage.initKey, used: false });
          break;
        case 'KeyPackageClaimed':
          // handed out once, ever
          expect(this.claimed.has(event.data.initKey)).toBe(false);
          this.claimed.add(event.data.initKey);
          this.unclaimed.set(event.data.serial, this.unclaimed.get(event.data.serial)!.filter((k) => k !== event.data.initKey));
          break;
        case 'LastResortKeyPackageServed':
          this.lastResort.get(event.data.sessionId)!.used = true;
          break;
      }
    }
  }
}

describe('KeyPackages decider against a plain model, over random histories', () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])('seed %i: 400 random uploads, last-resort replacements, claims, rotations and ended sessions', (seed) => {
    const rng = prng(seed);
    const sessionIds = ['phone', 'laptop', 'tablet'];
    const model = new Model(sessionIds);
    let state: KeyPackagesState = keyPackagesDecider.initialState();
    // a small pool of keys, so that duplicates (within a request and across the server) come up often
    const key = () => `k${rng.int(60)}`;
    // sizes from tiny to over the whole budget, so that claims of three sessions are cut now and then
    const packageBytes = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`k${i}`, rng.int(4) === 0 ? rng.int(2000) : 90_000 + rng.int(KEY_PACKAGE_LIMITS.claimBytes)]));
    const outcomes = new Map<string, number>();
    for (let step = 0; step < 400; step++) {
      const sessionId = rng.pick(sessionIds);
      const session = { sessionId, serial: model.sessions.get(sessionId)!.serial };
      const sessionActive = model.sessions.get(sessionId)!.active;
      let command: KeyPackagesCommand;
      switch (rng.int(7)) {
        case 0:
        case 1: {
          const keyPackages = Array.from({ length: rng.int(5) }, () => kp(key()));
          const alreadyStored = keyPackages.map((p) => p.initKey).filter((k) => model.everStored.has(k));
          command = { type: 'AddKeyPackages', federationId: fid, session, sessionActive, keyPackages, alreadyStored, at };
          break;
        }
        case 2: {
          const keyPackage = kp(key());
          const alreadyStored = model.everStored.has(keyPackage.initKey) ? [keyPackage.initKey] : [];
          command = { type: 'ReplaceLastResortKeyPackage', federationId: fid, session, sessionActive, keyPackage, alreadyStored, at };
          break;
        }
        case 3:
        case 4: {
          const activeSessions = sessionIds
            .filter((id) => model.sessions.get(id)!.active)
            .sort(() => rng.next() - 0.5)
            .map((id) => ({ sessionId: id, serial: model.sessions.get(id)!.serial }));
          command = { type: 'ClaimKeyPackages', federationId: fid, actorRegistered: true, requestedBy: 'bob@example.com', activeSessions, packageBytes, at };
          break;
        }
        case 5:
          // a rotation: the session's packages stay with the old cert and are no longer handed out
          model.open(sessionId);
          continue;
        default:
          // the session's cert invalidated (deleted), or the session opened again
          if (sessionActive) model.sessions.get(sessionId)!.active = false;
          else model.open(sessionId);
          continue;
      }
      const expected = model.expect(command);
      let actual: readonly KeyPackagesEvent[] | string;
      try {
        actual = keyPackagesDecider.decide(command, state);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        actual = error.code;
      }
      expect({ step, command: command.type, outcome: actual }).toEqual({ step, command: command.type, outcome: expected });
      const label = typeof actual === 'string' ? actual : `${command.type}:${actual.length > 0 ? 'events' : 'none'}`;
      outcomes.set(label, (outcomes.get(label) ?? 0) + 1);
      if (command.type === 'ClaimKeyPackages' && typeof actual !== 'string' && actual.length < model.servable(command.activeSessions)) {
        outcomes.set('ClaimKeyPackages:cut', (outcomes.get('ClaimKeyPackages:cut') ?? 0) + 1);
      }
      if (typeof actual !== 'string') {
        state = actual.reduce(keyPackagesDecider.evolve, state);
        model.apply(actual);
      }
    }
    // the histories reach every kind of outcome, not only refusals
    for (const kind of ['AddKeyPackages:events', 'ReplaceLastResortKeyPackage:events', 'ClaimKeyPackages:events', 'ClaimKeyPackages:cut', 'P2CORE_DUPLICATE_INIT_KEY', 'P2CORE_UNAUTHORIZED']) {
      expect({ kind, seen: (outcomes.get(kind) ?? 0) > 0 }).toEqual({ kind, seen: true });
    }
  });
});

import { ERROR_CODE, type DomainEvent, type KeyPackageData } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError } from '../domain-error';
import { KEY_PACKAGE_LIMITS } from './key-package.format';

export type KeyPackagesEvent = Extract<
  DomainEvent,
  { type: 'KeyPackagesAdded' | 'LastResortKeyPackageReplaced' | 'KeyPackageClaimed' | 'LastResortKeyPackageServed' }
>;

/** What one ID-Cert (one session, while that cert is its valid one) holds. */
export interface KeyPackageStock {
  readonly sessionId: string;
  /** init keys of the regular packages not handed out yet, oldest first */
  readonly unclaimed: readonly string[];
  /** the session's last-resort package, if it is bound to this cert */
  readonly lastResort?: { readonly initKey: string; readonly used: boolean };
}

/** The stock of an actor's KeyPackages, by cert serial. Deliberately small: only what is still
 * there to hand out (bounded by KEY_PACKAGE_LIMITS.stockPerSession per cert), nothing of what was
 * handed out. The stream itself grows by one event per package served, so the certstore does not
 * fold it per command: it loads this state from the key_packages projection, which is written in
 * the same transactions as the stream and equals the fold of it (the append's version check makes
 * a concurrent writer retry). `evolve` is that fold, and the specification of the loader. */
export interface KeyPackagesState {
  readonly stock: Readonly<Record<string, KeyPackageStock>>;
}

export interface SessionCert {
  readonly sessionId: string;
  /** the session's current, valid ID-Cert */
  readonly serial: string;
}

/** Commands as the certstore hands them to the decider, with what it read for them: whether the
 * calling session's cert is still valid, which of the new init keys are already stored anywhere on
 * the server (init_key is unique server-wide, across every actor), the target's active sessions. */
export type KeyPackagesCommand =
  | {
      readonly type: 'AddKeyPackages';
      readonly federationId: string;
      readonly session: SessionCert;
      readonly sessionActive: boolean;
      readonly keyPackages: readonly KeyPackageData[];
      readonly alreadyStored: readonly string[];
      readonly at: Date;
    }
  | {
      readonly type: 'ReplaceLastResortKeyPackage';
      readonly federationId: string;
      readonly session: SessionCert;
      readonly sessionActive: boolean;
      readonly keyPackage: KeyPackageData;
      readonly alreadyStored: readonly string[];
      readonly at: Date;
    }
  | {
      readonly type: 'ClaimKeyPackages';
      readonly federationId: string;
      readonly actorRegistered: boolean;
      readonly requestedBy: string;
      /** in the order the packages are handed out */
      readonly activeSessions: readonly SessionCert[];
      /** the stored size of each package of the stock, by init key (see claimCost) */
      readonly packageBytes: Readonly<Record<string, number>>;
      readonly at: Date;
    };

const initialState = (): KeyPackagesState => ({ stock: {} });

function evolve(state: KeyPackagesState, event: KeyPackagesEvent): KeyPackagesState {
  switch (event.type) {
    case 'KeyPackagesAdded': {
      const { serial, sessionId, keyPackages } = event.data;
      const current = stockOf(state, serial, sessionId);
      return withStock(state, serial, { ...current, unclaimed: [...current.unclaimed, ...keyPackages.map((p) => p.initKey)] });
    }
    case 'LastResortKeyPackageReplaced': {
      const { serial, sessionId, keyPackage } = event.data;
      // one last resort per session: the one bound to an older cert of the session is retired too
      const stock: Record<string, KeyPackageStock> = {};
      for (const [s, entry] of Object.entries(state.stock)) {
        stock[s] = entry.sessionId === sessionId ? { sessionId: entry.sessionId, unclaimed: entry.unclaimed } : entry;
      }
      const current = stock[serial] ?? { sessionId, unclaimed: [] };
      return { stock: { ...stock, [serial]: { ...current, lastResort: { initKey: keyPackage.initKey, used: false } } } };
    }
    case 'KeyPackageClaimed': {
      const { serial, sessionId, initKey } = event.data;
      const current = stockOf(state, serial, sessionId);
      return withStock(state, serial, { ...current, unclaimed: current.unclaimed.filter((k) => k !== initKey) });
    }
    case 'LastResortKeyPackageServed': {
      const { serial, sessionId, initKey } = event.data;
      const current = stockOf(state, serial, sessionId);
      if (current.lastResort?.initKey !== initKey) return state;
      return withStock(state, serial, { ...current, lastResort: { initKey, used: true } });
    }
    default:
      return assertNever(event);
  }
}

/** evolve never throws on replay: an event about an unknown cert creates its entry. */
function stockOf(state: KeyPackagesState, serial: string, sessionId: string): KeyPackageStock {
  return state.stock[serial] ?? { sessionId, unclaimed: [] };
}

function withStock(state: KeyPackagesState, serial: string, stock: KeyPackageStock): KeyPackagesState {
  return { stock: { ...state.stock, [serial]: stock } };
}

function decide(command: KeyPackagesCommand, state: KeyPackagesState): readonly KeyPackagesEvent[] {
  switch (command.type) {
    case 'AddKeyPackages': {
      const { federationId, session, keyPackages } = command;
      if (!command.sessionActive) throw sessionGone();
      if (keyPackages.length === 0) throw new DomainError(ERROR_CODE.malformedRequest, 'Send at least one KeyPackage.');
      if (keyPackages.length > KEY_PACKAGE_LIMITS.perRequest) {
        throw new DomainError(ERROR_CODE.keyPackageLimit, `At most ${KEY_PACKAGE_LIMITS.perRequest} KeyPackages per request.`);
      }
      refuseTakenInitKeys(state, keyPackages, command.alreadyStored);
      const held = state.stock[session.serial]?.unclaimed.length ?? 0;
      if (held + keyPackages.length > KEY_PACKAGE_LIMITS.stockPerSession) {
        throw new DomainError(
          ERROR_CODE.keyPackageLimit,
          `A session holds at most ${KEY_PACKAGE_LIMITS.stockPerSession} unused KeyPackages; this one holds ${held}.`,
        );
      }
      return [
        {
          type: 'KeyPackagesAdded',
          data: { federationId, sessionId: session.sessionId, serial: session.serial, keyPackages, addedAt: command.at.toISOString() },
        },
      ];
    }
    case 'ReplaceLastResortKeyPackage': {
      const { federationId, session, keyPackage } = command;
      if (!command.sessionActive) throw sessionGone();
      refuseTakenInitKeys(state, [keyPackage], command.alreadyStored);
      return [
        {
          type: 'LastResortKeyPackageReplaced',
          data: { federationId, sessionId: session.sessionId, serial: session.serial, keyPackage, replacedAt: command.at.toISOString() },
        },
      ];
    }
    case 'ClaimKeyPackages': {
      const { federationId, requestedBy } = command;
      if (!command.actorRegistered) throw new DomainError(ERROR_CODE.actorNotFound, `No actor ${federationId} is registered on this server.`);
      const at = command.at.toISOString();
      const events: KeyPackagesEvent[] = [];
      let bytes = 0;
      for (const { sessionId, serial } of command.activeSessions) {
        const stock = state.stock[serial];
        if (!stock || stock.sessionId !== sessionId) continue;
        const initKey = stock.unclaimed[0] ?? stock.lastResort?.initKey;
        if (initKey === undefined) continue;
        // The answer is one record on the replies topic: past the budget, this session and the
        // ones after it are left for a later claim, neither consumed nor answered (the first
        // package always goes, so a claim never answers [] while something is there to hand out).
        bytes += claimCost(command.packageBytes, initKey);
        if (bytes > KEY_PACKAGE_LIMITS.claimBytes && events.length > 0) break;
        if (initKey === stock.unclaimed[0]) {
          events.push({ type: 'KeyPackageClaimed', data: { federationId, sessionId, serial, initKey, requestedBy, claimedAt: at } });
        } else {
          events.push({
            type: 'LastResortKeyPackageServed',
            data: { federationId, sessionId, serial, initKey, requestedBy, previouslyServed: stock.lastResort!.used, servedAt: at },
          });
        }
      }
      return events;
    }
    default:
      return assertNever(command);
  }
}

/** The most a stored package can take: the limits of its fields (labels, init_key, leaf_node, extensions). */
const LARGEST_PACKAGE_BYTES =
  2 * KEY_PACKAGE_LIMITS.labelMaxChars + KEY_PACKAGE_LIMITS.initKeyMaxChars + KEY_PACKAGE_LIMITS.leafNodeMaxChars + KEY_PACKAGE_LIMITS.extensionsMaxChars;

/** What one handed-out package adds to a claim's answer, besides the package's fields: the
 * session ID, serial and field names, and the JSON escapes a label may need. */
const CLAIM_ENTRY_OVERHEAD_BYTES = 512;

/** A package's share of a claim's budget; one whose size the facts do not give counts as the
 * largest a package can be, so the answer stays within the budget whatever it holds. */
function claimCost(packageBytes: Readonly<Record<string, number>>, initKey: string): number {
  return (Object.hasOwn(packageBytes, initKey) ? packageBytes[initKey]! : LARGEST_PACKAGE_BYTES) + CLAIM_ENTRY_OVERHEAD_BYTES;
}

/** init_key is unique over every KeyPackage the server ever stored (docs/protocol.md#key-packages), within one
 * request too. */
function refuseTakenInitKeys(state: KeyPackagesState, keyPackages: readonly KeyPackageData[], alreadyStored: readonly string[]): void {
  const seen = new Set<string>();
  for (const { initKey } of keyPackages) {
    if (seen.has(initKey)) throw duplicateInitKey('appears twice in this request');
    seen.add(initKey);
  }
  if (alreadyStored.some((k) => seen.has(k))) throw duplicateInitKey('is already stored on this server');
  // The stock an upload is decided on holds up to 500 keys per cert of the actor. For the usual
  // request of one key or a few, Array#includes per request key is several times faster than
  // testing every held key against the request's Set (13 against 63 µs over 16 × 500 keys for one
  // request key); for a larger request the Set is.
  const held = (stock: KeyPackageStock) =>
    seen.size <= FEW_KEYS ? keyPackages.some(({ initKey }) => stock.unclaimed.includes(initKey)) : stock.unclaimed.some((k) => seen.has(k));
  for (const stock of Object.values(state.stock)) {
    if (held(stock) || (stock.lastResort && seen.has(stock.lastResort.initKey))) throw duplicateInitKey('is already stored on this server');
  }
}

/** Up to this many keys in a request, refuseTakenInitKeys looks each up in the held arrays. */
const FEW_KEYS = 4;

function duplicateInitKey(why: string): DomainError {
  return new DomainError(ERROR_CODE.duplicateInitKey, `A KeyPackage init_key ${why}; every init_key must be unique.`);
}

function sessionGone(): DomainError {
  return new DomainError(ERROR_CODE.unauthorized, "The calling session's ID-Cert is no longer valid.");
}

export const keyPackagesDecider: Decider<KeyPackagesState, KeyPackagesCommand, KeyPackagesEvent> = { initialState, evolve, decide };

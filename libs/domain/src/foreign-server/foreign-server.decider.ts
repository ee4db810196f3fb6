import { ERROR_CODE, type DomainEvent, type ForeignCacheInfo } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError } from '../domain-error';

export type ForeignServerEvent = Extract<DomainEvent, { type: 'ForeignServerCertCached' }>;

/** One root of another home server as this server verified it. */
export interface ForeignRootState {
  readonly serial: string;
  readonly certPem: string;
  /** base64 of the raw Ed25519 key */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly cacheUntil: string;
  /** when this server first knew the domain had moved past it: another root named current in its
   * place, or a current root that started after it (docs/protocol.md#foreign-invalidation);
   * absent while current, and while nothing newer is known */
  readonly supersededAt?: string;
}

/** The roots of one foreign domain (stream `foreign-server-<domain>`). */
export interface ForeignServerState {
  readonly roots: Readonly<Record<string, ForeignRootState>>;
  readonly currentSerial?: string;
}

/** A root a gateway fetched and the certstore verified (signature, domain, validity, cache
 * signature: effects, done before deciding). */
export interface VerifiedForeignRoot {
  readonly serial: string;
  readonly certPem: string;
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export type ForeignServerCommand = {
  readonly type: 'CacheForeignServerCert';
  readonly domain: string;
  readonly root: VerifiedForeignRoot;
  /** the home server named it its current root */
  readonly current: boolean;
  readonly cache?: ForeignCacheInfo;
  readonly cacheUntil: Date;
  readonly at: Date;
};

const initialState = (): ForeignServerState => ({ roots: {} });

function evolve(state: ForeignServerState, event: ForeignServerEvent): ForeignServerState {
  switch (event.type) {
    case 'ForeignServerCertCached': {
      const d = event.data;
      const previous = state.roots[d.serial];
      const roots: Record<string, ForeignRootState> = {
        ...state.roots,
        [d.serial]: {
          serial: d.serial,
          certPem: d.certPem,
          publicKey: d.publicKey,
          notBefore: d.notBefore,
          notAfter: d.notAfter,
          cacheUntil: d.cacheUntil,
          ...(previous?.supersededAt === undefined ? {} : { supersededAt: previous.supersededAt }),
        },
      };
      const currentSerial = d.current ? d.serial : state.currentSerial;
      const current = currentSerial === undefined ? undefined : roots[currentSerial];
      if (!current) return { roots };
      // docs/protocol.md#foreign-invalidation: the root it replaces as current, and every root that
      // started before the current one (a past root answered for a timestamp, which was never
      // current here), is superseded from this event on
      for (const root of Object.values(roots)) {
        if (root.serial === current.serial || root.supersededAt !== undefined) continue;
        const replaced = d.current && root.serial === state.currentSerial;
        if (replaced || Date.parse(root.notBefore) < Date.parse(current.notBefore)) roots[root.serial] = { ...root, supersededAt: d.fetchedAt };
      }
      return { roots, currentSerial: current.serial };
    }
    default:
      return assertNever(event.type);
  }
}

/** The current root of the domain, if this server has seen one. */
export function currentForeignRoot(state: ForeignServerState): ForeignRootState | undefined {
  return state.currentSerial === undefined ? undefined : state.roots[state.currentSerial];
}

function decide(command: ForeignServerCommand, state: ForeignServerState): readonly ForeignServerEvent[] {
  switch (command.type) {
    case 'CacheForeignServerCert': {
      const known = state.roots[command.root.serial];
      // docs/protocol.md#foreign-invalidation: a replaced key never becomes current again, whoever
      // answers for the domain (a replayed answer, a restored backup of the old server), also one
      // this server only learnt as a past root while a newer one was current.
      if (command.current && known?.supersededAt !== undefined) {
        throw new DomainError(
          ERROR_CODE.notFederated,
          `The home server of ${command.domain} names as its current root ${command.root.serial}, which it replaced before; this server does not go back to a replaced key.`,
        );
      }
      const replaces = command.current && state.currentSerial !== undefined && state.currentSerial !== command.root.serial ? state.currentSerial : undefined;
      return [
        {
          type: 'ForeignServerCertCached',
          data: {
            domain: command.domain,
            ...command.root,
            current: command.current,
            ...(replaces === undefined ? {} : { replaces }),
            ...(command.cache === undefined ? {} : { cache: command.cache }),
            cacheUntil: command.cacheUntil.toISOString(),
            fetchedAt: command.at.toISOString(),
          },
        },
      ];
    }
    default:
      return assertNever(command.type);
  }
}

export const foreignServerDecider: Decider<ForeignServerState, ForeignServerCommand, ForeignServerEvent> = { initialState, evolve, decide };

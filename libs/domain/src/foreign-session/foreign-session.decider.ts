import { ERROR_CODE, type DomainEvent, type ForeignCacheInfo, type ForeignIdCertCachedData } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError, domainErrors } from '../domain-error';

export type ForeignSessionEvent = Extract<
  DomainEvent,
  { type: 'ForeignIdCertCached' | 'ForeignIdCertInvalidated' | 'ForeignSessionIdentified' | 'ForeignIdCertAnnounced' | 'ForeignSessionLoggedOut' }
>;

/** One cert of a foreign session, as its home server last vouched for it. */
export interface ForeignCertState {
  readonly serial: string;
  readonly issuerDomain: string;
  /** base64 of the raw Ed25519 key */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly rootSerial: string;
  /** sticky: a home server never takes an invalidation back */
  readonly invalidated: boolean;
  readonly cacheUntil: string;
  readonly checkedAt: string;
}

/** A session of another home server's actor signed in here (stream `foreign-<fid>#<session>`). */
export interface ForeignSessionState {
  readonly certs: Readonly<Record<string, ForeignCertState>>;
  /** the cert the session signed in with or announced last */
  readonly currentSerial?: string;
  /** hash of the session's live token; absent before sign-in, after logout or invalidation */
  readonly tokenHash?: string;
}

/** A cert the certstore verified against the recorded root of its domain (an effect, done before deciding). */
export type VerifiedForeignCert = Pick<ForeignIdCertCachedData, 'issuerDomain' | 'serial' | 'certPem' | 'publicKey' | 'notBefore' | 'notAfter' | 'rootSerial'>;

interface SessionRef {
  readonly federationId: string;
  readonly sessionId: string;
  readonly at: Date;
}

/** `rootSupersededAt`: when the cert's root stopped being its domain's current root, if it did
 * (read from the domain's stream by the handler): statements older than that are stale.
 * `vouchedAt`: the `checkedAt` of the word the request's gateway fetched from the home server for
 * this very request (docs/protocol.md#federation-cache). */
export type ForeignSessionCommand =
  | (SessionRef & {
      readonly type: 'CacheForeignIdCert';
      readonly cert: VerifiedForeignCert;
      /** the home server lists the cert as invalidated: since when (its time, or when this server learnt it) */
      readonly invalidatedAt?: Date;
      /** the home server answered and does not list the cert: it no longer vouches for it, which
       * ends the cert here from `at`, as an invalidation does (docs/protocol.md#foreign-invalidation) */
      readonly notListed?: true;
      readonly cache?: ForeignCacheInfo;
      readonly cacheUntil: Date;
    })
  | (SessionRef & { readonly type: 'IdentifyForeignSession'; readonly serial: string; readonly tokenHash: string; readonly rootSupersededAt?: Date; readonly vouchedAt?: string })
  | (SessionRef & { readonly type: 'AnnounceForeignIdCert'; readonly serial: string; readonly rootSupersededAt?: Date; readonly vouchedAt?: string })
  | (SessionRef & { readonly type: 'LogOutForeignSession'; readonly tokenHash: string });

/** How long after it was recorded the word a sign-in or an announcement fetched still answers that
 * request whatever its window: the longest a gateway waits for a reply (P2_REPLY_TIMEOUT_MS is at
 * most 120 s), docs/protocol.md#federation-cache. */
export const FRESH_WORD_GRACE_MS = 120_000;

/** Why a cert may not be used now, with the code to answer (docs/protocol.md#foreign-sessions). */
export interface ForeignCertRefusal {
  readonly code: typeof ERROR_CODE.certInvalidated | typeof ERROR_CODE.notFederated;
  readonly message: string;
}

/**
 * Whether a foreign cert, as last vouched for by its home server, may be used at `at`: not
 * invalidated, inside its validity, and vouched for recently enough — the statement is still
 * inside its cache window, and newer than a change of the domain's root (a rotation that may have
 * been a compromise, docs/protocol.md#foreign-invalidation). Shared with the gateway's first pass.
 * `askedNow`: the latest word is the one the home server gave for the request being decided; its
 * window is then not checked (docs/protocol.md#federation-cache).
 */
export function foreignCertRefusal(
  cert: Pick<ForeignCertState, 'serial' | 'invalidated' | 'notBefore' | 'notAfter' | 'cacheUntil' | 'checkedAt'> | undefined,
  at: Date,
  rootSupersededAt?: Date,
  askedNow = false,
): ForeignCertRefusal | undefined {
  if (!cert) return { code: ERROR_CODE.notFederated, message: 'This ID-Cert has not been confirmed with its home server.' };
  if (cert.invalidated) return { code: ERROR_CODE.certInvalidated, message: `The ID-Cert ${cert.serial} is invalidated by its home server.` };
  const t = Math.floor(at.getTime() / 1000) * 1000;
  if (t < Date.parse(cert.notBefore) || t > Date.parse(cert.notAfter)) {
    return { code: ERROR_CODE.certInvalidated, message: `The ID-Cert ${cert.serial} is outside its validity.` };
  }
  const stale = (!askedNow && at.getTime() > Date.parse(cert.cacheUntil)) || (rootSupersededAt !== undefined && Date.parse(cert.checkedAt) < rootSupersededAt.getTime());
  if (stale) {
    return { code: ERROR_CODE.notFederated, message: `The ID-Cert ${cert.serial} must be confirmed with its home server again, which could not be done.` };
  }
  return undefined;
}

/** Whether `cert` may replace `current` as the session's cert: it starts later, or the current one is dead. */
export function isNewerForeignCert(cert: Pick<ForeignCertState, 'notBefore'>, current: Pick<ForeignCertState, 'notBefore' | 'invalidated'> | undefined): boolean {
  return current === undefined || current.invalidated || Date.parse(cert.notBefore) > Date.parse(current.notBefore);
}

const initialState = (): ForeignSessionState => ({ certs: {} });

function withCert(state: ForeignSessionState, serial: string, change: Partial<ForeignCertState>): ForeignSessionState {
  const current = state.certs[serial];
  // evolve never throws on replay: a change to an unknown cert is dropped
  if (!current) return state;
  return { ...state, certs: { ...state.certs, [serial]: { ...current, ...change } } };
}

function withoutToken(state: ForeignSessionState): ForeignSessionState {
  return { certs: state.certs, ...(state.currentSerial === undefined ? {} : { currentSerial: state.currentSerial }) };
}

function evolve(state: ForeignSessionState, event: ForeignSessionEvent): ForeignSessionState {
  switch (event.type) {
    case 'ForeignIdCertCached': {
      const d = event.data;
      const previous = state.certs[d.serial];
      const cert: ForeignCertState = {
        serial: d.serial,
        issuerDomain: d.issuerDomain,
        publicKey: d.publicKey,
        notBefore: d.notBefore,
        notAfter: d.notAfter,
        rootSerial: d.rootSerial,
        invalidated: (previous?.invalidated ?? false) || d.invalidatedAt !== undefined,
        cacheUntil: d.cacheUntil,
        checkedAt: d.checkedAt,
      };
      return { ...state, certs: { ...state.certs, [d.serial]: cert } };
    }
    case 'ForeignIdCertInvalidated': {
      const next = withCert(state, event.data.serial, { invalidated: true });
      return state.currentSerial === event.data.serial ? withoutToken(next) : next;
    }
    case 'ForeignSessionIdentified':
      return { ...state, currentSerial: event.data.serial, tokenHash: event.data.tokenHash };
    case 'ForeignIdCertAnnounced':
      return { ...state, currentSerial: event.data.serial };
    case 'ForeignSessionLoggedOut':
      return withoutToken(state);
    default:
      return assertNever(event);
  }
}

/** The cert a sign-in or an announcement wants to make current; refuses as foreignCertRefusal does,
 * and an older cert of the session than its current one. */
function usableNewCurrent(state: ForeignSessionState, serial: string, command: SessionRef & { readonly rootSupersededAt?: Date; readonly vouchedAt?: string }): ForeignCertState {
  const cert = state.certs[serial];
  // A word with no window (Cache-Control: no-store) or one shorter than the trip through Kafka has
  // ended by the time this is decided, and still answers the request it was fetched for: while no
  // older word is the latest (a newer one, the refresher's or a retry's, says at least as much:
  // an invalidation sticks), and for FRESH_WORD_GRACE_MS at most, not for a command that waited
  // in Kafka while its home server may have invalidated the cert.
  const vouchedAt = command.vouchedAt === undefined ? NaN : Date.parse(command.vouchedAt);
  const askedNow = cert !== undefined && vouchedAt <= Date.parse(cert.checkedAt) && command.at.getTime() <= vouchedAt + FRESH_WORD_GRACE_MS;
  const refusal = foreignCertRefusal(cert, command.at, command.rootSupersededAt, askedNow);
  if (refusal) throw new DomainError(refusal.code, refusal.message);
  const current = state.currentSerial === undefined ? undefined : state.certs[state.currentSerial];
  if (current && current.serial !== serial && !isNewerForeignCert(cert!, current)) {
    throw domainErrors.certInvalidated(serial);
  }
  return cert!;
}

function decide(command: ForeignSessionCommand, state: ForeignSessionState): readonly ForeignSessionEvent[] {
  const ids = { federationId: command.federationId, sessionId: command.sessionId };
  switch (command.type) {
    case 'CacheForeignIdCert': {
      const { cert } = command;
      // Not listed is recorded as an invalidation, for good: a home server that lists a cert no
      // longer (deleted it, or lost it in a rebuild) does not vouch for it, and nothing it says
      // later can tell a cert it meant to list again from one it should never have dropped.
      // A cert this server never had a word on has nothing to end, and is refused all the same
      // (the gateway answers 403): recording it would end for good a cert its home server has
      // merely not listed yet (a replica behind its primary right after the cert was issued).
      if (command.notListed && state.certs[cert.serial] === undefined) return [];
      const invalidatedAt = command.notListed ? command.at : command.invalidatedAt;
      const cached: ForeignSessionEvent = {
        type: 'ForeignIdCertCached',
        data: {
          ...ids,
          ...cert,
          ...(invalidatedAt === undefined ? {} : { invalidatedAt: invalidatedAt.toISOString() }),
          ...(command.notListed ? { notListed: true as const } : {}),
          ...(command.cache === undefined ? {} : { cache: command.cache }),
          cacheUntil: command.cacheUntil.toISOString(),
          checkedAt: command.at.toISOString(),
        },
      };
      if (invalidatedAt === undefined || state.certs[cert.serial]?.invalidated) return [cached];
      const tokenHash = state.currentSerial === cert.serial ? state.tokenHash : undefined;
      return [
        cached,
        {
          type: 'ForeignIdCertInvalidated',
          data: { ...ids, serial: cert.serial, invalidatedAt: invalidatedAt.toISOString(), ...(tokenHash === undefined ? {} : { tokenHash }) },
        },
      ];
    }
    case 'IdentifyForeignSession': {
      usableNewCurrent(state, command.serial, command);
      return [{ type: 'ForeignSessionIdentified', data: { ...ids, serial: command.serial, tokenHash: command.tokenHash, identifiedAt: command.at.toISOString() } }];
    }
    case 'AnnounceForeignIdCert': {
      if (state.currentSerial === undefined) throw domainErrors.sessionNotFound(command.sessionId);
      usableNewCurrent(state, command.serial, command);
      if (state.currentSerial === command.serial) return [];
      return [
        {
          type: 'ForeignIdCertAnnounced',
          data: { ...ids, previousSerial: state.currentSerial, serial: command.serial, announcedAt: command.at.toISOString() },
        },
      ];
    }
    case 'LogOutForeignSession': {
      if (state.currentSerial === undefined) throw domainErrors.sessionNotFound(command.sessionId);
      // as LogOutSession: a token the gateway let in and that is no longer the session's was ended meanwhile
      if (state.tokenHash === undefined || state.tokenHash !== command.tokenHash) throw domainErrors.tokenEnded();
      return [
        {
          type: 'ForeignSessionLoggedOut',
          data: { ...ids, serial: state.currentSerial, tokenHash: command.tokenHash, loggedOutAt: command.at.toISOString() },
        },
      ];
    }
    default:
      return assertNever(command);
  }
}

export const foreignSessionDecider: Decider<ForeignSessionState, ForeignSessionCommand, ForeignSessionEvent> = { initialState, evolve, decide };

/** What a change (an event, or the result of a command this gateway sent) makes the gateway's
 * caches forget. Result types are named like the events that carry the same change. */
export interface CacheChange {
  /** the server key changed: every cached answer and token (all cache windows were re-signed) */
  readonly everything?: boolean;
  /** this actor's certificate answers */
  readonly actor?: string;
  /** this session's tokens */
  readonly session?: { readonly federationId: string; readonly sessionId: string };
  /** every token (a foreign root changed: the certs of its actors' sessions may have too) */
  readonly allTokens?: boolean;
}

/** Changes of an actor's certificate list (and of the session whose cert it is). */
const ACTOR_CERT_CHANGES: ReadonlySet<string> = new Set(['ActorRegistered', 'SessionOpened', 'IdCertIssued', 'IdCertInvalidated', 'IdCertRotated', 'SessionDeleted']);

/** Changes after which a session's token may be dead, or point at another cert. */
const TOKEN_CHANGES: ReadonlySet<string> = new Set([
  'SessionLoggedOut',
  'SessionIdentified',
  'ForeignIdCertCached',
  'ForeignIdCertInvalidated',
  'ForeignIdCertAnnounced',
  'ForeignSessionIdentified',
  'ForeignSessionLoggedOut',
]);

const EVERYTHING: ReadonlySet<string> = new Set(['ServerKeyGenerated', 'ServerKeyRotated']);

/** The change an event or command result of `type` with `data` stands for; undefined when the
 * cached answers do not depend on it. */
export function cacheChangeOf(type: string, data: unknown): CacheChange | undefined {
  if (EVERYTHING.has(type)) return { everything: true };
  if (type === 'ForeignServerCertCached') return { allTokens: true };
  const fields = (typeof data === 'object' && data !== null ? data : {}) as { federationId?: unknown; sessionId?: unknown };
  const federationId = typeof fields.federationId === 'string' ? fields.federationId : undefined;
  const sessionId = typeof fields.sessionId === 'string' ? fields.sessionId : undefined;
  const session = federationId !== undefined && sessionId !== undefined ? { federationId, sessionId } : undefined;
  // a change that does not say whose it is costs every entry rather than a stale one: so does an
  // event the relay published without its data (docs/architecture.md#oversized-events)
  if (ACTOR_CERT_CHANGES.has(type)) return federationId === undefined ? { everything: true } : { actor: federationId, ...(session ? { session } : {}) };
  if (TOKEN_CHANGES.has(type)) return session ? { session } : { allTokens: true };
  return undefined;
}

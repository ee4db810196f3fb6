import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import type { TokenSession } from '@p2/read-models';
import { BoundedLru, FillVersions, type FillTicket } from './bounded-lru';

interface CachedToken {
  readonly session: TokenSession;
  readonly expiresAt: number;
}

/** Every fill shares one key: a token's session is unknown until it is read, so any invalidation
 * voids the fills in flight. */
const FILL_KEY = 'tokens';

/**
 * Token lookups of the bearer guard and the WebSocket gateway, kept P2_TOKEN_CACHE_TTL_MS at most
 * (and never past the cert's notAfter), so that an authenticated request does not cost a database
 * round trip. A logout, deletion, rotation or identify of a session forgets its tokens: at once on
 * the gateway that sent the command (its reply), on the others when the event arrives; used only
 * while the events consumer is positioned, like the {@link ReadCache}.
 */
@Injectable()
export class TokenCache {
  private readonly tokens: BoundedLru<string, CachedToken>;
  /** The cached token hashes of each session (`federationId` NUL `sessionId`): forgetting a session
   * touches its own tokens, not every cached one (a rotation forgets one on every gateway). */
  private readonly bySession = new Map<string, Set<string>>();
  private readonly versions = new FillVersions();
  private readonly ttlMs: number;
  private live = false;
  private readonly forgetListeners: ((session?: { readonly federationId: string; readonly sessionId: string }) => void)[] = [];

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.tokens = new BoundedLru(config.readCache.tokenEntries, (tokenHash, cached) => this.unindex(tokenHash, cached.session));
    this.ttlMs = config.readCache.tokenTtlMs;
  }

  /** Hears every forgetting, whatever asked for it: a session's tokens, or (no session) all of them.
   * The WebSocket gateway's Identifies in flight must learn of it (docs/architecture.md#live-events):
   * a lookup the cache answered before the forgetting may be stale. */
  onForget(listener: (session?: { readonly federationId: string; readonly sessionId: string }) => void): void {
    this.forgetListeners.push(listener);
  }

  setLive(live: boolean): void {
    this.live = live;
    this.forgetAll();
  }

  lookup(tokenHash: string, now: Date): TokenSession | undefined {
    if (!this.live) return undefined;
    const cached = this.tokens.get(tokenHash);
    if (cached === undefined) return undefined;
    if (cached.expiresAt > now.getTime()) return cached.session;
    this.tokens.delete(tokenHash);
    this.unindex(tokenHash, cached.session);
    return undefined;
  }

  beginFill(): FillTicket | undefined {
    return this.live ? this.versions.ticket(FILL_KEY) : undefined;
  }

  store(ticket: FillTicket, tokenHash: string, session: TokenSession, now: Date): void {
    if (!this.live || !this.versions.current(ticket)) return;
    // valid through notAfter inclusive (docs/protocol.md#cert-validity): kept strictly before it
    const expiresAt = Math.min(now.getTime() + this.ttlMs, session.certNotAfter.getTime());
    if (expiresAt <= now.getTime()) return;
    const replaced = this.tokens.get(tokenHash);
    if (replaced) this.unindex(tokenHash, replaced.session);
    this.tokens.set(tokenHash, { session, expiresAt });
    if (this.tokens.size === 0) return; // capacity 0: nothing is kept
    const key = sessionKey(session.federationId, session.sessionId);
    let hashes = this.bySession.get(key);
    if (!hashes) this.bySession.set(key, (hashes = new Set()));
    hashes.add(tokenHash);
  }

  forgetSession(federationId: string, sessionId: string): void {
    this.versions.bump(FILL_KEY);
    const key = sessionKey(federationId, sessionId);
    for (const tokenHash of this.bySession.get(key) ?? []) this.tokens.delete(tokenHash);
    this.bySession.delete(key);
    for (const listener of this.forgetListeners) listener({ federationId, sessionId });
  }

  forgetAll(): void {
    this.versions.bumpAll();
    this.tokens.clear();
    this.bySession.clear();
    for (const listener of this.forgetListeners) listener();
  }

  private unindex(tokenHash: string, session: TokenSession): void {
    const key = sessionKey(session.federationId, session.sessionId);
    const hashes = this.bySession.get(key);
    if (!hashes) return;
    hashes.delete(tokenHash);
    if (hashes.size === 0) this.bySession.delete(key);
  }
}

const sessionKey = (federationId: string, sessionId: string) => `${federationId}\u0000${sessionId}`;

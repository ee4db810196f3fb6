/** An Identify from the start of its first token lookup until it joins its session's group. */
export interface IdentifyWindow {
  /**
   * Ends the window, in the same turn of the event loop as the join (from then on an event that
   * ends the token finds the socket): whether an event that may have ended a token of this session,
   * or of every session, was heard since the window began. Without a session the Identify gave up,
   * and the answer means nothing. A second close answers true.
   */
  close(federationId?: string, sessionId?: string): boolean;
}

/** Sessions listed by name at most; past this the oldest are dropped, and a window that began
 * before one of them counts as having heard an event (a second lookup, never a missed one). */
const DEFAULT_MAX_LISTED = 4096;

/**
 * The token events (docs/architecture.md#live-events) heard while Identifies are in flight, kept
 * for as long as the oldest of them: an Identify learns its session only from its first lookup,
 * so an event is recorded under its session and matched when the window closes. Bounded: the open
 * windows are Identifies in flight, and the sessions listed at most `maxListed`; nothing is kept
 * while no window is open.
 */
export class IdentifyWindows {
  /** Numbers the events heard while a window is open; a window begins at the current number. */
  private heardSoFar = 0;
  /** The open windows and where each began, oldest first (a Map keeps insertion order). */
  private readonly open = new Map<object, number>();
  /** The number of the last event of each session heard since the oldest open window began, in
   * that order (an event moves its session to the end). */
  private readonly bySession = new Map<string, number>();
  /** The last event that concerned every session (a rejoin of the events feed, an event without its data). */
  private everyone = 0;
  /** The last event dropped from {@link bySession} to keep it bounded. */
  private dropped = 0;

  constructor(private readonly maxListed = DEFAULT_MAX_LISTED) {}

  begin(): IdentifyWindow {
    const window = {};
    const since = this.heardSoFar;
    this.open.set(window, since);
    return { close: (federationId, sessionId) => this.close(window, since, federationId, sessionId) };
  }

  /** An event that may have ended the tokens of this session. */
  heardSession(federationId: string, sessionId: string): void {
    if (this.open.size === 0) return;
    const key = sessionKey(federationId, sessionId);
    this.bySession.delete(key);
    this.bySession.set(key, ++this.heardSoFar);
    if (this.bySession.size <= this.maxListed) return;
    const [oldest, heard] = this.bySession.entries().next().value as [string, number];
    this.bySession.delete(oldest);
    this.dropped = heard;
  }

  /** An event that may have ended the tokens of any session. */
  heardEveryone(): void {
    if (this.open.size === 0) return;
    this.everyone = ++this.heardSoFar;
    // every open window began before it: none needs what was listed
    this.bySession.clear();
  }

  /** Open windows (for tests and the bound). */
  get size(): number {
    return this.open.size;
  }

  private close(window: object, since: number, federationId: string | undefined, sessionId: string | undefined): boolean {
    if (!this.open.delete(window)) return true;
    const missed =
      this.everyone > since ||
      this.dropped > since ||
      (federationId !== undefined && sessionId !== undefined && (this.bySession.get(sessionKey(federationId, sessionId)) ?? 0) > since);
    this.forgetBefore(this.open.values().next().value);
    return missed;
  }

  /** Drops what no open window can ask about: events up to the oldest open window's beginning. */
  private forgetBefore(oldest: number | undefined): void {
    if (oldest === undefined) {
      this.bySession.clear();
      return;
    }
    for (const [key, heard] of this.bySession) {
      if (heard > oldest) return;
      this.bySession.delete(key);
    }
  }
}

const sessionKey = (federationId: string, sessionId: string) => `${federationId}\u0000${sessionId}`;

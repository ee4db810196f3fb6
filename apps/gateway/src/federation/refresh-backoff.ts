import { setNewest } from '@p2/platform';

/**
 * When the refresher may ask again about a domain or a cert whose last asking failed
 * (docs/protocol.md#federation-refresh). A failure records nothing in the log (one event per
 * failing cert per round would flood it, and the gateway writes only through commands), so the
 * refresher's queries would hand it the same rows first every round; it keeps the failures here,
 * in memory, and the queries leave out what is waiting. Forgotten with the process: the next
 * refresher asks once more about everything, then backs off again.
 */
export class RefreshBackoff<T> {
  private readonly failing = new Map<string, { item: T; failures: number; retryAt: number }>();

  /**
   * @param keyOf identity of an item (two items with the same key share their backoff)
   * @param baseMs wait after the first failure; doubles with each further one
   * @param maxMs longest wait; also how long a failure is remembered once its wait is over and
   *   nothing asked again (the session may have ended)
   * @param maxEntries most items remembered: whoever makes this server meet foreign certs decides
   *   how many there are; over it, the oldest failure is forgotten
   */
  constructor(
    private readonly keyOf: (item: T) => string,
    private readonly baseMs: number,
    private readonly maxMs: number,
    private readonly maxEntries: number,
  ) {}

  /** The items that must not be asked about at `now`. */
  waiting(now: Date): T[] {
    const at = now.getTime();
    const out: T[] = [];
    for (const [key, entry] of this.failing) {
      if (entry.retryAt > at) out.push(entry.item);
      else if (entry.retryAt + this.maxMs < at) this.failing.delete(key);
    }
    return out;
  }

  failed(item: T, now: Date): void {
    const key = this.keyOf(item);
    const failures = (this.failing.get(key)?.failures ?? 0) + 1;
    // at least two intervals at the first failure: with one, the item would be due again by the next round
    // Not the lock-out's afterWrongPassword (after 0), although its waits are these: it forgets a
    // run at exactly retryAt + maxMs, where a failure here still doubles, and caps a wait at maxMs
    // even below one interval (P2_FEDERATION_REFRESH_SECONDS over an hour).
    const wait = Math.min(this.baseMs * 2 ** Math.min(failures, 30), Math.max(this.maxMs, this.baseMs));
    setNewest(this.failing, key, { item, failures, retryAt: now.getTime() + wait }, this.maxEntries);
  }

  succeeded(item: T): void {
    this.failing.delete(this.keyOf(item));
  }
}

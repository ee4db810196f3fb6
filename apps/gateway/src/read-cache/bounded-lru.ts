/** A map of at most `capacity` entries that drops the least recently used one when full (a Map
 * keeps insertion order: a hit moves its key to the end). Capacity 0 keeps nothing. `onEvict` hears
 * of each entry dropped to make room (for an index kept beside the map). */
export class BoundedLru<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(
    private readonly capacity: number,
    private readonly onEvict?: (key: K, value: V) => void,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity === 0) return;
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) {
      const [oldest, dropped] = this.entries.entries().next().value as [K, V];
      this.entries.delete(oldest);
      this.onEvict?.(oldest, dropped);
    }
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}

/**
 * Versions for caches whose fills run concurrently with invalidations: a fill takes a ticket
 * before it reads, and may store only if nothing it read was invalidated since (else a fill that
 * read before a write would store the old answer after the write's invalidation). Each key has a
 * version, and an epoch covers all keys; the version map is bounded by starting a new epoch.
 */
export class FillVersions {
  private epoch = 0;
  private readonly versions = new Map<string, number>();

  constructor(private readonly maxKeys = 100000) {}

  ticket(key: string): FillTicket {
    return { key, epoch: this.epoch, version: this.versions.get(key) ?? 0 };
  }

  /** Whether nothing was invalidated for the ticket's key since it was taken. */
  current(ticket: FillTicket): boolean {
    return ticket.epoch === this.epoch && ticket.version === (this.versions.get(ticket.key) ?? 0);
  }

  bump(key: string): void {
    if (this.versions.size >= this.maxKeys) this.bumpAll();
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
  }

  bumpAll(): void {
    this.epoch++;
    this.versions.clear();
  }
}

export interface FillTicket {
  readonly key: string;
  readonly epoch: number;
  readonly version: number;
}

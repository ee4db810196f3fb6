import { keyPackagesDecider, type KeyPackagesEvent, type KeyPackagesState } from '@p2/domain';
import type { LoadedStream } from './aggregate.store';
import type { CommandContext } from './command-context';

/** How many actors' stocks a certstore keeps (least recently written first out): each holds at
 * most KEY_PACKAGE_LIMITS.stockPerSession init keys per cert it was read for. */
const STOCKS = 2_000;

export interface KnownStock {
  readonly version: number;
  /** the certs whose stock `state` holds in full (an upload reads its own cert's only) */
  readonly serials: ReadonlySet<string>;
  readonly state: KeyPackagesState;
}

/**
 * The KeyPackage stock of the keypackages streams this certstore wrote, as of the version its
 * transaction committed, so that an upload reads the stock from PostgreSQL only when another
 * writer moved the stream (key-packages.queries uploadFacts): reading it costs one heap page per
 * package, up to 500 per cert, on every upload. The stream version, read in the command's own
 * snapshot, decides whether an entry still holds; a stale entry costs one full read, nothing more.
 */
export class KeyPackageStocks {
  private readonly known = new Map<string, KnownStock>();

  /** The state of `serial`'s stock in `streamId` as of the version returned, if known. */
  get(streamId: string, serial: string): KnownStock | undefined {
    const entry = this.known.get(streamId);
    return entry?.serials.has(serial) ? entry : undefined;
  }

  /** After `loaded` (whose state holds the stock of `serials` in full) was decided into `events`:
   * the state they lead to, kept once the command's transaction committed. */
  remember(loaded: LoadedStream<KeyPackagesState>, serials: ReadonlySet<string>, events: readonly KeyPackagesEvent[], ctx: CommandContext): void {
    const version = loaded.version + events.length;
    const state = events.reduce(keyPackagesDecider.evolve, loaded.state);
    ctx.afterCommit(() => {
      const current = this.known.get(loaded.streamId);
      if (current && current.version >= version) return;
      this.known.delete(loaded.streamId); // re-inserted last: the Map's order is the eviction order
      this.known.set(loaded.streamId, { version, serials, state });
      if (this.known.size > STOCKS) this.known.delete(this.known.keys().next().value!);
    });
  }
}

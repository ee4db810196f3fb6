import { keyPackagesDecider, type KeyPackagesEvent, type KeyPackagesState } from '@p2/domain';
import type { LoadedStream } from './aggregate.store';
import type { CommandContext } from './command-context';
import { StreamMemory } from './stream-memory';

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
 *
 * Two things keep it from missing on a busy actor (measured in the bench's kp-upload cell, 16
 * sessions per actor, several commands per actor in one transaction: ~300 buffer pages read per
 * upload before, the stock read on nearly every one):
 *  - an entry grows cert by cert: the sessions of an actor upload in turn to one stream, and an
 *    entry holding only the last writer's cert made every other session's upload read again;
 *  - what a command decided is visible at once to the later commands of its own transaction
 *    (CommandContext.unit, dropped if the command is undone), not only once it committed.
 */
export class KeyPackageStocks {
  private readonly known = new StreamMemory<KnownStock>('key-package-stock', STOCKS);

  /** The state of `serial`'s stock in `streamId` as of the version returned, if known. */
  get(streamId: string, serial: string, ctx: CommandContext): KnownStock | undefined {
    const entry = this.known.latest(streamId, ctx);
    return entry?.serials.has(serial) ? entry : undefined;
  }

  /**
   * What an upload for `serial` is decided on, given `read`: the stock of `serial` alone, read from
   * PostgreSQL at `version`. When the entry for the stream is of that same version, the stocks of
   * its other certs still hold and come along (every cert's stock is a key of its own in the state).
   */
  widen(streamId: string, serial: string, version: number, read: KeyPackagesState, ctx: CommandContext): Omit<KnownStock, 'version'> {
    const entry = this.known.latest(streamId, ctx);
    if (!entry || entry.version !== version || entry.serials.has(serial)) return { serials: new Set([serial]), state: read };
    const stock = { ...entry.state.stock };
    delete stock[serial];
    return { serials: new Set([...entry.serials, serial]), state: { stock: { ...stock, ...read.stock } } };
  }

  /** After `loaded` (whose state holds the stock of `serials` in full) was decided into `events`:
   * the state they lead to, for the rest of the transaction at once, for good once it committed. */
  remember(loaded: LoadedStream<KeyPackagesState>, serials: ReadonlySet<string>, events: readonly KeyPackagesEvent[], ctx: CommandContext): void {
    const entry: KnownStock = { version: loaded.version + events.length, serials, state: events.reduce(keyPackagesDecider.evolve, loaded.state) };
    this.known.remember(loaded.streamId, entry, ctx);
  }
}

import { setNewest } from '@p2/platform';
import type { CommandContext } from './command-context';

/**
 * What a certstore remembers of the streams it loaded or wrote, each entry as of a stream version.
 * An entry is seen by the later commands of the same transaction at once (CommandContext.unit, so
 * gone if its command is undone) and by every transaction after its own committed. A committed
 * entry gives way only to a newer version (two transactions may have read the same stream), and
 * the least recently written goes first when there are `capacity` of them.
 *
 * Whether an entry still holds is for the caller to decide, from the stream's version read in the
 * command's own snapshot: another certstore may have moved the stream since.
 */
export class StreamMemory<T extends { readonly version: number }> {
  private readonly committed = new Map<string, T>();

  /** `kind` keeps the entries of two memories apart in a transaction's UnitMemo. */
  constructor(
    private readonly kind: string,
    private readonly capacity: number,
  ) {}

  /** The entry as of the last transaction that committed one. */
  committedEntry(streamId: string): T | undefined {
    return this.committed.get(streamId);
  }

  /** The newest entry: one an earlier command of this transaction left, else the committed one. */
  latest(streamId: string, ctx: Pick<CommandContext, 'unit'>): T | undefined {
    return ctx.unit.get<T>(this.unitKey(streamId)) ?? this.committed.get(streamId);
  }

  /** For the rest of the transaction at once, for good once it committed. */
  remember(streamId: string, entry: T, ctx: Pick<CommandContext, 'unit' | 'afterCommit'>): void {
    ctx.unit.set(this.unitKey(streamId), entry);
    ctx.afterCommit(() => {
      const current = this.committed.get(streamId);
      if (current && current.version >= entry.version) return;
      setNewest(this.committed, streamId, entry, this.capacity);
    });
  }

  private unitKey(streamId: string): string {
    return `${this.kind}:${streamId}`;
  }
}

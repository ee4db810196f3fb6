import type { MessageMetadata } from '@p2/contracts';
import { type Sql } from '@p2/event-store';
import type { UnitMemo } from './unit-memory';

/** What a command handler gets: the batch's transaction to write in (inside this command's
 * savepoint), the metadata for its events, and the instant the command is handled at (the clock
 * is read once, at the edge). */
export interface CommandContext {
  readonly db: Sql;
  readonly metadata: MessageMetadata;
  readonly at: Date;
  /** Runs `effect` once the command's transaction committed; never when the command is undone. */
  readonly afterCommit: (effect: () => void) => void;
  /** What earlier commands of the same transaction left (and not undone), and where this one
   * leaves something for the later ones. */
  readonly unit: UnitMemo;
}

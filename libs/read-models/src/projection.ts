import type { AppendedEvent, Sql } from '@p2/event-store';

/** An inline read model: applied in the append transaction, and again by the rebuild tool. */
export interface Projection {
  readonly name: string;
  /** Tables this projection owns; the rebuild empties them before replaying the log. */
  readonly tables: readonly string[];
  readonly handles: readonly string[];
  /** Writes are deferred (they travel with the next statement); a projection that must read
   * something queries, which sends what was deferred first. */
  apply(db: Sql, event: AppendedEvent): Promise<void>;
}

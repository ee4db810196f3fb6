import type { AppendedEvent, Sql } from '@p2/event-store';
import type { SecretOpener } from './data-keys/data-keys.vault';

/** An inline read model: applied in the append transaction, and again by the rebuild tool. */
export interface Projection {
  readonly name: string;
  /** Tables this projection owns; the rebuild empties them before replaying the log. */
  readonly tables: readonly string[];
  readonly handles: readonly string[];
  /** Writes are deferred (they travel with the next statement); a projection that must read
   * something queries, which sends what was deferred first. `secrets` opens what an event carries
   * sealed under a data key (docs/architecture.md#crypto-shredding): a projection is a pure function
   * of the log and the data keys not yet destroyed. */
  apply(db: Sql, event: AppendedEvent, secrets: SecretOpener): Promise<void>;
}

import type { EntityManager } from 'typeorm';
import type { StoredEvent } from '@p2/event-store';

/** An inline read model: applied in the append transaction, and again by the rebuild tool. */
export interface Projection {
  readonly name: string;
  /** Tables this projection owns; the rebuild empties them before replaying the log. */
  readonly tables: readonly string[];
  readonly handles: readonly string[];
  apply(manager: EntityManager, event: StoredEvent): Promise<void>;
}

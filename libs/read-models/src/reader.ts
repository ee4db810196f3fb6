import type { Sql } from '@p2/event-store';

/** What the queries of a read model run on: a certstore transaction (an `Sql` of
 * @p2/event-store, so the read sees that transaction's own writes) or the gateway's pool. */
export type Reader = Pick<Sql, 'query'>;

import type { Reader } from '../reader';

/** How many sessions one pruning statement takes on: short enough that an acknowledgement waiting
 * for a cursor the pruner holds waits little. */
export const INBOX_PRUNE_BATCH = 500;

/** What a pruning run deleted. */
export interface InboxPruned {
  readonly sessions: number;
  readonly items: number;
}

/**
 * Deletes the items every session has fetched (those up to its cursor), a batch of sessions per
 * statement, until no session has any left; returns what went. Each statement locks the cursors
 * of its batch (FOR UPDATE SKIP LOCKED: a cursor an acknowledgement is moving is left for the next
 * run, and several certstores pruning at once take different sessions), deletes the items between
 * the session's `pruned_seq` and `fetched_seq`, and moves `pruned_seq` up. A cursor is always
 * locked before its items, as SessionDeleted's projection does too, so the two cannot deadlock.
 */
export async function pruneFetchedInbox(db: Reader, batch = INBOX_PRUNE_BATCH): Promise<InboxPruned> {
  let sessions = 0;
  let items = 0;
  for (;;) {
    const [row]: { sessions: number; items: number }[] = await db.query(
      `WITH due AS (
         SELECT federation_id, session_id, pruned_seq, fetched_seq FROM session_inbox_cursors
          WHERE fetched_seq > pruned_seq
          LIMIT $1 FOR UPDATE SKIP LOCKED
       ), gone AS (
         DELETE FROM session_inbox i USING due d
          WHERE i.federation_id = d.federation_id AND i.session_id = d.session_id AND i.seq > d.pruned_seq AND i.seq <= d.fetched_seq
         RETURNING 1
       ), moved AS (
         UPDATE session_inbox_cursors c SET pruned_seq = d.fetched_seq FROM due d
          WHERE c.federation_id = d.federation_id AND c.session_id = d.session_id
         RETURNING 1
       )
       SELECT (SELECT count(*) FROM moved)::int AS sessions, (SELECT count(*) FROM gone)::int AS items`,
      [batch],
    );
    sessions += row!.sessions;
    items += row!.items;
    if (row!.sessions < batch) return { sessions, items };
  }
}

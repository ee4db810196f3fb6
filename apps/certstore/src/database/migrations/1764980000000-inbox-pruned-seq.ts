import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Fetched inbox items are no longer deleted by the acknowledgement itself: they stay behind the
 * session's cursor (`fetched_seq`, which every read starts after) and a pruner deletes them in bulk
 * (docs/architecture.md#inbox-pruning). `pruned_seq` is how far the pruner got for the session.
 * Until now the acknowledgement deleted its items at once, so every existing session is pruned up
 * to its cursor.
 */
export class InboxPrunedSeq1764980000000 implements MigrationInterface {
  name = 'InboxPrunedSeq1764980000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE session_inbox_cursors ADD COLUMN pruned_seq bigint NOT NULL DEFAULT 0`);
    await q.query(`UPDATE session_inbox_cursors SET pruned_seq = fetched_seq`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM session_inbox i USING session_inbox_cursors c
                    WHERE i.federation_id = c.federation_id AND i.session_id = c.session_id AND i.seq <= c.fetched_seq`);
    await q.query(`ALTER TABLE session_inbox_cursors DROP COLUMN pruned_seq`);
  }
}

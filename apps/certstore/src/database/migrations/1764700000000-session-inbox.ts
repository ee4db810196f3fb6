import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The events inbox of every session (GET /events, docs/protocol.md#event-items): items not yet fetched, and per
 * session the last sequence number handed out and the last one fetched. */
export class SessionInbox1764700000000 implements MigrationInterface {
  name = 'SessionInbox1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE session_inbox_cursors (
        federation_id text NOT NULL,
        session_id text NOT NULL,
        last_seq bigint NOT NULL,
        fetched_seq bigint NOT NULL,
        PRIMARY KEY (federation_id, session_id)
      )`);
    await q.query(`
      CREATE TABLE session_inbox (
        federation_id text NOT NULL,
        session_id text NOT NULL,
        seq bigint NOT NULL,
        type text NOT NULL,
        op integer,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL,
        PRIMARY KEY (federation_id, session_id, seq)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS session_inbox`);
    await q.query(`DROP TABLE IF EXISTS session_inbox_cursors`);
  }
}

import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Challenge strings of GET /challenge (docs/protocol.md#challenge-strings), projected from ChallengeIssued /
 * ChallengeConsumed. Readers filter on `expires_at`; rows that expired more than an hour before a
 * newer challenge was issued are deleted by the projection itself (see challenges.projection.ts),
 * so the table holds about one TTL-plus-an-hour of traffic and never grows without bound. */
export class Challenges1764600000000 implements MigrationInterface {
  name = 'Challenges1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE challenges (
        challenge text PRIMARY KEY,
        bound_federation_id text,
        bound_session_id text,
        issued_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        consumed_at timestamptz,
        consumed_by_federation_id text,
        consumed_by_session_id text,
        consumed_by_serial numeric(20)
      )`);
    await q.query(`CREATE INDEX challenges_expires_at_idx ON challenges (expires_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS challenges`);
  }
}

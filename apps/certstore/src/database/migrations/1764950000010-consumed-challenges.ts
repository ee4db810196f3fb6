import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Challenges stop being written when issued (docs/protocol.md#challenge-strings): GET /challenge
 * hands out a value signed by the gateways, and only its use is recorded, here, in the transaction
 * of the identify that used it. A row is kept until a while after the challenge's expiry (the
 * certstore refuses an expired challenge by itself), then the retention job deletes it.
 *
 * The `challenges` read model of issued challenges goes: nothing reads it any more. The
 * ChallengeIssued / ChallengeConsumed events of older logs stay in `events`; no projection reads them.
 * A challenge issued before this migration and not yet used cannot be used after it (it was not
 * signed): its client asks for a new one, as after an expiry.
 */
export class ConsumedChallenges1764950000010 implements MigrationInterface {
  name = 'ConsumedChallenges1764950000010';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS challenges`);
    await q.query(`
      CREATE TABLE consumed_challenges (
        challenge text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX consumed_challenges_expires_at_idx ON consumed_challenges (expires_at)`);
  }

  /** Back to the read model of issued challenges, empty: `npm run projections:rebuild` of the older
   * version fills it from the log again. */
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS consumed_challenges`);
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
        consumed_by_serial numeric(49)
      )`);
    await q.query(`CREATE INDEX challenges_expires_at_idx ON challenges (expires_at)`);
  }
}

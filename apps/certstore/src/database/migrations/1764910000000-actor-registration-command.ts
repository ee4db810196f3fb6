import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The command that registered each actor, so that the gateway tells a retry of that registration
 * (same Idempotency-Key) from a request for a taken name without hashing a password
 * (docs/protocol.md#idempotency-key). Filled from the log for actors registered before. */
export class ActorRegistrationCommand1764910000000 implements MigrationInterface {
  name = 'ActorRegistrationCommand1764910000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE actors ADD COLUMN registered_by_command text`);
    await q.query(`
      UPDATE actors SET registered_by_command = e.metadata->>'messageId'
      FROM events e
      WHERE e.stream_id = 'actor-' || actors.federation_id AND e.type = 'ActorRegistered'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE actors DROP COLUMN IF EXISTS registered_by_command`);
  }
}

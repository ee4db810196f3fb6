import type { EntityManager } from 'typeorm';
import { translateUniqueViolation } from './event-store.errors';

/** Idempotency of command handling: the first outcome of a command id is recorded in the same
 * transaction as its events, so a redelivered command returns that outcome and appends nothing. */
export class ProcessedCommands {
  constructor(private readonly consumer: string) {}

  async find<T>(manager: EntityManager, commandId: string): Promise<T | undefined> {
    const rows: { outcome: T }[] = await manager.query(
      'SELECT outcome FROM processed_commands WHERE consumer = $1 AND command_id = $2',
      [this.consumer, commandId],
    );
    return rows[0]?.outcome;
  }

  /** Records the outcome; a concurrent duplicate makes the transaction fail with a unique
   * violation on the primary key, which the caller treats as "already processed". */
  async record(manager: EntityManager, commandId: string, commandType: string, outcome: unknown): Promise<void> {
    try {
      await manager.query(
        `INSERT INTO processed_commands (consumer, command_id, command_type, outcome) VALUES ($1, $2, $3, $4::jsonb)`,
        [this.consumer, commandId, commandType, JSON.stringify(outcome)],
      );
    } catch (error) {
      throw translateUniqueViolation(error, []) ?? error;
    }
  }
}

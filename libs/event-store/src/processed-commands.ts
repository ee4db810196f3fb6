import type { EntityManager } from 'typeorm';
import { translateUniqueViolation } from './event-store.errors';

/** One command's first outcome, as recorded. */
export interface ProcessedCommand<T> {
  readonly commandId: string;
  readonly commandType: string;
  readonly outcome: T;
}

/** Idempotency of command handling: the first outcome of a command id is recorded in the same
 * transaction as its events, so a redelivered command returns that outcome and appends nothing. */
export class ProcessedCommands {
  constructor(private readonly consumer: string) {}

  async find<T>(manager: EntityManager, commandId: string): Promise<T | undefined> {
    return (await this.findMany<T>(manager, [commandId])).get(commandId);
  }

  /** The recorded outcomes of those of `commandIds` that were processed already, in one query. */
  async findMany<T>(manager: EntityManager, commandIds: readonly string[]): Promise<Map<string, T>> {
    if (commandIds.length === 0) return new Map();
    const rows: { command_id: string; outcome: T }[] = await manager.query(
      'SELECT command_id, outcome FROM processed_commands WHERE consumer = $1 AND command_id = ANY($2::text[])',
      [this.consumer, commandIds],
    );
    return new Map(rows.map((row) => [row.command_id, row.outcome]));
  }

  /** Records the outcomes in one INSERT; a command recorded concurrently by another transaction
   * makes it fail with a unique violation on the primary key (after that transaction commits),
   * which the caller treats as "already processed". */
  async record<T>(manager: EntityManager, commands: readonly ProcessedCommand<T>[]): Promise<void> {
    if (commands.length === 0) return;
    const params: unknown[] = [this.consumer];
    const values = commands.map((c) => {
      params.push(c.commandId, c.commandType, JSON.stringify(c.outcome));
      const o = params.length - 3;
      return `($1, $${o + 1}, $${o + 2}, $${o + 3}::jsonb)`;
    });
    try {
      await manager.query(`INSERT INTO processed_commands (consumer, command_id, command_type, outcome) VALUES ${values.join(', ')}`, params);
    } catch (error) {
      throw translateUniqueViolation(error, []) ?? error;
    }
  }
}

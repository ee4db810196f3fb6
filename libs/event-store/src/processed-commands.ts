import type { Sql } from './sql';

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

  async find<T>(db: Sql, commandId: string): Promise<T | undefined> {
    return (await this.findMany<T>(db, [commandId])).get(commandId);
  }

  /** The recorded outcomes of those of `commandIds` that were processed already, in one query. */
  async findMany<T>(db: Sql, commandIds: readonly string[]): Promise<Map<string, T>> {
    if (commandIds.length === 0) return new Map();
    const rows: { command_id: string; outcome: T }[] = await db.query(
      'SELECT command_id, outcome FROM processed_commands WHERE consumer = $1 AND command_id = ANY($2::text[])',
      [this.consumer, commandIds],
    );
    return new Map(rows.map((row) => [row.command_id, row.outcome]));
  }

  /** Records the outcomes in one INSERT (deferred). A command recorded concurrently by another
   * transaction makes it fail, once that one commits, with a unique violation on the primary key,
   * which the caller treats as "already processed". */
  record<T>(db: Sql, commands: readonly ProcessedCommand<T>[], processedAt: Date): void {
    if (commands.length === 0) return;
    // the injectable clock's time: the retention window is measured on it
    const params: unknown[] = [this.consumer, processedAt];
    const values = commands.map((c) => {
      params.push(c.commandId, c.commandType, JSON.stringify(c.outcome));
      const o = params.length - 3;
      return `($1, $${o + 1}, $${o + 2}, $${o + 3}::jsonb, $2)`;
    });
    db.defer(`INSERT INTO processed_commands (consumer, command_id, command_type, outcome, processed_at) VALUES ${values.join(', ')}`, params);
  }
}

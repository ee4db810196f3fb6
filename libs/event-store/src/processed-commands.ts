import { planOnce, type Sql } from './sql';

const FIND_MANY = 'SELECT command_id, outcome FROM processed_commands WHERE consumer = $1 AND command_id = ANY($2::text[])';

interface Row<T> {
  readonly command_id: string;
  readonly outcome: T;
}

function outcomes<T>(rows: readonly Row<T>[]): Map<string, T> {
  return new Map(rows.map((row) => [row.command_id, row.outcome]));
}

/** The answer of a deferred idempotency lookup (ProcessedCommands.findManyLater). */
export interface DeferredOutcomes<T> {
  /** the outcomes found, once the lookup ran; undefined before */
  known(): ReadonlyMap<string, T> | undefined;
  /** the outcomes found, running the lookup now if it has not run */
  get(): Promise<ReadonlyMap<string, T>>;
}

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
    return outcomes(await db.query<Row<T>[]>(FIND_MANY, [this.consumer, commandIds]));
  }

  /**
   * `findMany`, deferred: the lookup leaves with the next statement sent on `db`, and its answer
   * is read from the handle. `known()` is undefined until then; `get()` sends it if it has not
   * left yet, or asks again if the message that carried it failed.
   */
  findManyLater<T>(db: Sql, commandIds: readonly string[]): DeferredOutcomes<T> {
    if (commandIds.length === 0) return { known: () => new Map(), get: async () => new Map() };
    const read = db.deferRead<Row<T>>(FIND_MANY, [this.consumer, commandIds]);
    let found: Map<string, T> | undefined;
    const known = () => (found ??= read.rows && outcomes(read.rows));
    return {
      known,
      get: async () => {
        if (known()) return found!;
        await db.flush();
        return known() ?? (found = await this.findMany<T>(db, commandIds));
      },
    };
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
    db.defer(planOnce(`INSERT INTO processed_commands (consumer, command_id, command_type, outcome, processed_at) VALUES ${values.join(', ')}`), params);
  }
}

import type { Reader } from './reader';

/** The most lookups a {@link BatchedStatement} takes at once. */
export const LOOKUPS_PER_STATEMENT = 64;

/**
 * A read that answers several lookups in one statement: the lookups go in as a VALUES list, each
 * row numbered (`q.i`, from 0) so that the answers can be told apart, and the list is padded to a
 * power of two (the last lookup repeated; its rows are dropped). A connection so prepares at most
 * seven statements, and the planner knows each one's row count: the generic plan of a statement
 * that reaches its tables by key for each row is as cheap as one made for the values, and is kept
 * after a few executions. With an array parameter instead, the planner guesses the array's length,
 * prefers a plan made for each execution's values, and plans every execution (docs/architecture.md#token-lookups).
 */
export class BatchedStatement<L> {
  private readonly texts = new Map<number, string>();

  /**
   * @param columns the VALUES columns as `name type` (`token_hash text`)
   * @param params a lookup's values, one per column
   * @param text the statement around the VALUES list, which it names `q`
   */
  constructor(
    private readonly columns: readonly string[],
    private readonly params: (lookup: L) => readonly unknown[],
    private readonly text: (values: string) => string,
  ) {}

  /** The rows of the lookups given (in `i`: the lookup's index), in the statement's order. */
  async query<R extends { readonly i: number }>(db: Reader, lookups: readonly L[]): Promise<R[]> {
    if (lookups.length === 0) return [];
    if (lookups.length > LOOKUPS_PER_STATEMENT) throw new RangeError(`at most ${LOOKUPS_PER_STATEMENT} lookups per statement`);
    const length = 2 ** Math.ceil(Math.log2(lookups.length));
    const params: unknown[] = [];
    for (let i = 0; i < length; i++) params.push(...this.params(lookups[Math.min(i, lookups.length - 1)]!));
    const rows: R[] = await db.query(this.statement(length), params);
    return rows.filter((row) => row.i < lookups.length);
  }

  private statement(length: number): string {
    let text = this.texts.get(length);
    if (text === undefined) {
      const width = this.columns.length;
      const types = this.columns.map((column) => column.slice(column.indexOf(' ') + 1));
      const names = this.columns.map((column) => column.slice(0, column.indexOf(' ')));
      const rows = Array.from({ length }, (_, row) => `(${types.map((type, c) => `$${row * width + c + 1}::${type}`).join(', ')}, ${row})`);
      text = this.text(`(VALUES ${rows.join(', ')}) AS q(${[...names, 'i'].join(', ')})`);
      this.texts.set(length, text);
    }
    return text;
  }
}

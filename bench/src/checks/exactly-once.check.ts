import { withClient } from '../ceilings/ceilings';

/** Where the log and the certstore's command record stood when a write cell began. */
export interface WriteMark {
  readonly globalPosition: string;
  readonly at: Date;
}

export interface ExactlyOnceResult {
  /** commands the certstore accepted (recorded with an ok outcome) during the cell */
  readonly applied: number;
  /** accepted answers (2xx) that no accepted command stands for */
  readonly lost: number;
  /** commands whose events were appended by more than one transaction: applied twice */
  readonly doubled: number;
}

/**
 * Every write still exactly once, checked in the bench's own database after each write cell (the
 * cluster is idle again by then: a cell ends once every request in flight has its answer). A write
 * the gateway answered 2xx must be a command the certstore recorded as accepted (processed_commands,
 * one row per command id), and no command's events may come from two transactions: a command runs
 * in one savepoint of one group commit, and a redelivered one is answered from its record without
 * appending. With several gateways and certstores this is what a rebalance or a duplicate delivery
 * would break.
 */
export class ExactlyOnceCheck {
  constructor(private readonly pgUrl: string) {}

  async mark(): Promise<WriteMark> {
    return withClient(this.pgUrl, async (db) => {
      const { rows } = await db.query<{ position: string; at: Date }>('SELECT coalesce(max(global_position), 0)::text AS position, clock_timestamp() AS at FROM events');
      return { globalPosition: rows[0]!.position, at: rows[0]!.at };
    });
  }

  async check(mark: WriteMark, accepted: number): Promise<ExactlyOnceResult> {
    return withClient(this.pgUrl, async (db) => {
      const applied = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM processed_commands WHERE consumer = 'certstore' AND processed_at >= $1 AND (outcome->>'ok')::boolean`,
        [mark.at],
      );
      const doubled = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM (
           SELECT 1 FROM events WHERE global_position > $1::bigint
            GROUP BY metadata->>'messageId' HAVING count(DISTINCT transaction_id) > 1) twice`,
        [mark.globalPosition],
      );
      const n = applied.rows[0]!.n;
      return { applied: n, lost: Math.max(0, accepted - n), doubled: doubled.rows[0]!.n };
    });
  }
}

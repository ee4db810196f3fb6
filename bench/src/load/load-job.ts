/** What the load generator process is asked to do, and what it answers (IPC messages). */

export interface LoadRequest {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface LoadJob {
  /** origins of the server under load, e.g. http://127.0.0.1:3000; with several (one per gateway of
   * the cluster), connection i goes to origin i mod their number */
  readonly urls: readonly string[];
  readonly connections: number;
  readonly durationSeconds: number;
  /** when set, the cell ends after exactly this many requests instead of after durationSeconds */
  readonly amount?: number;
  /** a JSON file holding LoadRequest[] (can be tens of MB: a file rather than an IPC message) */
  readonly requestsFile: string;
  /**
   * `once`: every entry is sent at most once, each request built when its turn comes (writes);
   * `cycled`: the list is built into raw requests up front and cycled (reads, the bare-HTTP ceiling);
   * `cycled-per-request`: cycled, but each request built when its turn comes, like `once` (the
   * load generator's own ceiling for writes).
   */
  readonly list: 'once' | 'cycled' | 'cycled-per-request';
  /** the statuses that count as a completed operation; every other answer is an error */
  readonly okStatuses: readonly number[];
  /** return the bodies of completed operations, with the index of their entry */
  readonly capture: boolean;
  /** when set, every answer that arrives in the window is written to this file, one
   * `<ms since the cell began>,<latency ms>,<status>` line each, in the order they arrived, after a
   * `# began at <epoch ms>` line */
  readonly timelineFile?: string;
}

export interface LoadResult {
  /** from the first request to the end of the cell */
  readonly elapsedSeconds: number;
  /** completed operations (answers with one of okStatuses) */
  readonly ok: number;
  /** latency of the completed operations, milliseconds */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** every answer by status, completed operations included */
  readonly statuses: Readonly<Record<string, number>>;
  /** requests without an answer: connection errors and timeouts, by kind */
  readonly failures: Readonly<Record<string, number>>;
  /** how many entries of the list were handed to a connection (sent, or lost on a reconnect) */
  readonly used: number;
  /** set when a non-reusable list ran out before the end of the cell */
  readonly exhaustedAfterSeconds?: number;
  readonly captured: readonly (readonly [index: number, body: string])[];
}

/** The p-th percentile (0–100) of ascending `sorted` values (nearest rank); 0 for none. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Arbitrary constant: the advisory lock a projection rebuild holds for its transaction. Certstores
 * report a rebuild in progress by seeing it taken (telemetry `projections.rebuilding`). */
export const PROJECTION_REBUILD_LOCK_KEY = 727_002;

/** Anything that runs SQL with parameters (a pg client, a TypeORM data source or manager). */
export type QueryFn = (sql: string, parameters?: unknown[]) => Promise<unknown>;

/** Takes the rebuild lock for the rest of the caller's transaction (waits for another rebuild). */
export async function holdRebuildLock(query: QueryFn): Promise<void> {
  await query('SELECT pg_advisory_xact_lock($1)', [PROJECTION_REBUILD_LOCK_KEY]);
}

/** Whether some session holds the rebuild lock now. */
export async function rebuildRunning(query: QueryFn): Promise<boolean> {
  const rows = (await query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND granted`, [PROJECTION_REBUILD_LOCK_KEY])) as { n: number }[];
  return (rows[0]?.n ?? 0) > 0;
}

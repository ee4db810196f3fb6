import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import { sqlOf } from '@p2/event-store';
import { holdRebuildLock } from '@p2/observability';
import { dataSourceOptions } from '@p2/platform';
import { DataKeyVault, NO_SECRETS, PROJECTIONS, rebuildProjections } from '@p2/read-models';

/** Every read model's rows, each table sorted by its rows' JSON (order-independent). */
export async function snapshotProjections(db: Client): Promise<Record<string, unknown[]>> {
  const tables: Record<string, unknown[]> = {};
  for (const projection of PROJECTIONS) {
    for (const table of projection.tables) {
      const rows = (await db.query(`SELECT * FROM ${table}`)).rows;
      tables[table] = rows.map((row) => JSON.stringify(row)).sort();
    }
  }
  return tables;
}

/** Rebuilds every projection from the events table (what `npm run projections:rebuild` does) and
 * returns how many events were replayed. Sealed key material needs the cluster's key-encryption key
 * (`cluster.keyEncryptionKey`); without it, a log holding some makes the rebuild fail. */
export async function rebuildFromLog(databaseUrl: string, keyEncryptionKey?: Buffer): Promise<number> {
  const rebuild = await rebuildHeldOpen(databaseUrl, keyEncryptionKey);
  await rebuild.commit();
  return rebuild.replayed;
}

/** A rebuild (what `npm run projections:rebuild` does, its advisory lock included) that has replayed
 * the log but not yet committed: its transaction holds every read-model table, as a long rebuild
 * does for its whole run, until `commit()`. */
export async function rebuildHeldOpen(databaseUrl: string, keyEncryptionKey?: Buffer): Promise<{ replayed: number; commit(): Promise<void> }> {
  const dataSource = new DataSource(dataSourceOptions(databaseUrl, { extra: { max: 1, statement_timeout: 0 } }));
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.startTransaction();
    await holdRebuildLock((sql, parameters) => runner.query(sql, parameters));
    const secrets = keyEncryptionKey ? new DataKeyVault(() => keyEncryptionKey) : NO_SECRETS;
    const replayed = await rebuildProjections(sqlOf(runner.manager), secrets);
    return {
      replayed,
      commit: async () => {
        try {
          await runner.commitTransaction();
        } finally {
          await runner.release();
          await dataSource.destroy();
        }
      },
    };
  } catch (error) {
    await runner.release().catch(() => undefined);
    await dataSource.destroy();
    throw error;
  }
}

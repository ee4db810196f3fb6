import type { Client } from 'pg';
import { DataSource } from 'typeorm';
import { sqlOf } from '@p2/event-store';
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
  const secrets = keyEncryptionKey ? new DataKeyVault(() => keyEncryptionKey) : NO_SECRETS;
  const dataSource = new DataSource(dataSourceOptions(databaseUrl));
  await dataSource.initialize();
  try {
    return await dataSource.transaction((manager) => rebuildProjections(sqlOf(manager), secrets));
  } finally {
    await dataSource.destroy();
  }
}

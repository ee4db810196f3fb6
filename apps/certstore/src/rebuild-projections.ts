import { DataSource } from 'typeorm';
import { sqlOf } from '@p2/event-store';
import { DEFAULT_DATABASE_URL, loadKeyEncryptionKey } from '@p2/config';
import { holdRebuildLock } from '@p2/observability';
import { dataSourceOptions } from '@p2/platform';
import { DataKeyVault, rebuildProjections } from '@p2/read-models';

/** `npm run projections:rebuild`: empties the read models and replays the event log into them. Sealed
 * secrets (key material) are opened with P2_KEY_ENCRYPTION_KEY, read only when the log holds one. */
async function main(): Promise<void> {
  // no statement timeout, as p2ctl's rebuild: the TRUNCATE waits for the certstores' transactions on a
  // busy cluster, and replaying a long log is one transaction
  const dataSource = new DataSource(dataSourceOptions(process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL, { extra: { max: 1, statement_timeout: 0 } }));
  await dataSource.initialize();
  try {
    const replayed = await dataSource.transaction(async (manager) => {
      // certstores report a rebuild in progress while this lock is held (telemetry, metrics)
      await holdRebuildLock((sql, parameters) => manager.query(sql, parameters));
      return rebuildProjections(sqlOf(manager), new DataKeyVault(() => loadKeyEncryptionKey(process.env)));
    });
    process.stdout.write(`rebuilt the read models from ${replayed} events\n`);
  } finally {
    await dataSource.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`rebuild failed: ${(error as Error).message}\n`);
  process.exit(1);
});

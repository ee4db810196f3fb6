import { DataSource } from 'typeorm';
import { sqlOf } from '@p2/event-store';
import { DEFAULT_DATABASE_URL } from '@p2/config';
import { holdRebuildLock } from '@p2/observability';
import { dataSourceOptions } from '@p2/platform';
import { rebuildProjections } from '@p2/read-models';

/** `npm run projections:rebuild`: empties the read models and replays the event log into them. */
async function main(): Promise<void> {
  const dataSource = new DataSource(dataSourceOptions(process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL));
  await dataSource.initialize();
  try {
    const replayed = await dataSource.transaction(async (manager) => {
      // certstores report a rebuild in progress while this lock is held (telemetry, metrics)
      await holdRebuildLock((sql, parameters) => manager.query(sql, parameters));
      return rebuildProjections(sqlOf(manager));
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

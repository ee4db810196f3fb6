import { DataSource } from 'typeorm';
import { sqlOf } from '@p2/event-store';
import { holdRebuildLock } from '@p2/observability';
import { dataSourceOptions } from '@p2/platform';
import { loadKeyEncryptionKey } from '@p2/config';
import { DataKeyVault, rebuildProjections } from '@p2/read-models';
import { UsageError } from '../operator-env';
import type { OperatorSession } from '../operator-session';

/** `p2ctl projections rebuild`: empties the read models and replays the event log into them in
 * one transaction (as `npm run projections:rebuild`), holding the rebuild lock the certstores
 * report in their telemetry. Sealed secrets are opened with P2_KEY_ENCRYPTION_KEY, read only when the
 * log holds one (docs/architecture.md#crypto-shredding). */
export async function projectionsCommand(session: OperatorSession, [action]: readonly string[]): Promise<number> {
  if (action !== 'rebuild') throw new UsageError('usage: p2ctl projections rebuild');
  const dataSource = new DataSource(dataSourceOptions(session.env.databaseUrl, { extra: { max: 1, statement_timeout: 0 } }));
  await dataSource.initialize();
  let replayed: number;
  try {
    replayed = await dataSource.transaction(async (manager) => {
      await holdRebuildLock((sql, parameters) => manager.query(sql, parameters));
      return rebuildProjections(sqlOf(manager), new DataKeyVault(() => loadKeyEncryptionKey(session.io.env)));
    });
  } finally {
    await dataSource.destroy();
  }
  await session.audit({ reason: 'projections-rebuild', details: { events: replayed } });
  session.io.out(`rebuilt the read models from ${replayed} events`);
  return 0;
}

import { DataSource } from 'typeorm';
import { sqlOf } from '@p2/event-store';
import { holdRebuildLock } from '@p2/observability';
import { dataSourceOptions } from '@p2/platform';
import { loadKeyEncryptionKey } from '@p2/config';
import { DataKeyVault, rebuildProjections } from '@p2/read-models';
import { UsageError } from '../operator-env';
import type { OperatorSession } from '../operator-session';

/** `p2ctl projections rebuild`: {@link rebuildReadModels}, then an audit entry. */
export async function projectionsCommand(session: OperatorSession, [action]: readonly string[]): Promise<number> {
  if (action !== 'rebuild') throw new UsageError('usage: p2ctl projections rebuild');
  const replayed = await rebuildReadModels(session.env.databaseUrl, session.io.env);
  await session.audit({ reason: 'projections-rebuild', details: { events: replayed } });
  session.io.out(`rebuilt the read models from ${replayed} events`);
  return 0;
}

/**
 * Empties the read models and replays the event log into them in one transaction, holding the
 * rebuild lock the certstores report in their telemetry; answers how many events it replayed. Both
 * `p2ctl projections rebuild` and `npm run projections:rebuild` run this. Sealed secrets are opened
 * with P2_KEY_ENCRYPTION_KEY of `env`, read only when the log holds one
 * (docs/architecture.md#crypto-shredding).
 */
export async function rebuildReadModels(databaseUrl: string, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  // no statement timeout: the TRUNCATE waits for the certstores' transactions on a busy cluster, and
  // replaying a long log is one transaction
  const dataSource = new DataSource(dataSourceOptions(databaseUrl, { extra: { max: 1, statement_timeout: 0 } }));
  await dataSource.initialize();
  try {
    return await dataSource.transaction(async (manager) => {
      await holdRebuildLock((sql, parameters) => manager.query(sql, parameters));
      return rebuildProjections(sqlOf(manager), new DataKeyVault(() => loadKeyEncryptionKey(env)));
    });
  } finally {
    await dataSource.destroy();
  }
}

import { DataSource } from 'typeorm';
import { dataSourceOptions, ensureDatabase } from '@p2/platform';
import { InitialSchema1764300000000 } from './migrations/1764300000000-initial-schema';
import { KeyMaterial1764400000000 } from './migrations/1764400000000-key-material';
import { Challenges1764600000000 } from './migrations/1764600000000-challenges';
import { SessionInbox1764700000000 } from './migrations/1764700000000-session-inbox';
import { KeyPackages1764500000000 } from './migrations/1764500000000-key-packages';
import { Federation1764800000000 } from './migrations/1764800000000-federation';
import { ActorRegistrationCommand1764910000000 } from './migrations/1764910000000-actor-registration-command';
import { CredentialSealKeys1764930000000 } from './migrations/1764930000000-credential-seal-keys';
import { ConsumedChallenges1764950000010 } from './migrations/1764950000010-consumed-challenges';
import { DataKeys1764960000001 } from './migrations/1764960000001-data-keys';

/** Every migration, in order. Listed explicitly: no glob paths. */
export const MIGRATIONS = [InitialSchema1764300000000, KeyMaterial1764400000000, Challenges1764600000000, SessionInbox1764700000000, KeyPackages1764500000000, Federation1764800000000, ActorRegistrationCommand1764910000000, CredentialSealKeys1764930000000, ConsumedChallenges1764950000010, DataKeys1764960000001];

/** Arbitrary constant: serialises migration runs of several certstores starting together. */
const MIGRATION_LOCK_KEY = 727_000;

/** Creates the database if missing and applies pending migrations, one process at a time. */
export async function migrateDatabase(databaseUrl: string, log: (line: string) => void = () => undefined): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const dataSource = new DataSource(dataSourceOptions(databaseUrl, { migrations: MIGRATIONS, extra: { max: 1 } }));
  await dataSource.initialize();
  try {
    await dataSource.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      for (const m of applied) log(`applied migration ${m.name}`);
      return applied.map((m) => m.name);
    } finally {
      await dataSource.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await dataSource.destroy();
  }
}

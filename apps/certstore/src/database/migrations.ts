import { DataSource } from 'typeorm';
import { dataSourceOptions, ensureDatabase, gatewayRoleName, scramSha256Verifier } from '@p2/platform';
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
import { GatewayRole1764970000000 } from './migrations/1764970000000-gateway-role';

/** Every migration, in order. Listed explicitly: no glob paths. */
export const MIGRATIONS = [InitialSchema1764300000000, KeyMaterial1764400000000, Challenges1764600000000, SessionInbox1764700000000, KeyPackages1764500000000, Federation1764800000000, ActorRegistrationCommand1764910000000, CredentialSealKeys1764930000000, ConsumedChallenges1764950000010, DataKeys1764960000001, GatewayRole1764970000000];

/** Arbitrary constant: serialises migration runs of several certstores starting together. */
const MIGRATION_LOCK_KEY = 727_000;

export interface MigrateOptions {
  /** P2_GATEWAY_DB_PASSWORD: set as the gateway role's password on every run (so that changing it
   * takes effect at the next start); unset leaves the role's password as it is */
  readonly gatewayPassword?: string;
}

/** Creates the database if missing and applies pending migrations, one process at a time. */
export async function migrateDatabase(databaseUrl: string, log: (line: string) => void = () => undefined, options: MigrateOptions = {}): Promise<string[]> {
  await ensureDatabase(databaseUrl);
  const dataSource = new DataSource(dataSourceOptions(databaseUrl, { migrations: MIGRATIONS, extra: { max: 1 } }));
  await dataSource.initialize();
  try {
    await dataSource.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      for (const m of applied) log(`applied migration ${m.name}`);
      if (options.gatewayPassword !== undefined) await setGatewayPassword(dataSource, gatewayRoleName(databaseUrl), options.gatewayPassword);
      return applied.map((m) => m.name);
    } finally {
      await dataSource.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await dataSource.destroy();
  }
}

/** Sets the gateway role's password as a SCRAM-SHA-256 verifier made here: the password itself never
 * reaches PostgreSQL, so no statement log holds it. (ALTER ROLE takes no parameters: the verifier is
 * quoted by format().) */
async function setGatewayPassword(dataSource: DataSource, role: string, password: string): Promise<void> {
  const [row]: { statement: string }[] = await dataSource.query(`SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text) AS statement`, [role, scramSha256Verifier(password)]);
  await dataSource.query(row!.statement);
}

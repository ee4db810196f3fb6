import { loadMigrationConfig } from '@p2/config';
import { migrateDatabase } from './database/migrations';

/** `npm run migrate`: create the database if needed and apply pending migrations. */
Promise.resolve()
  .then(() => {
    const { databaseUrl, gatewayDbPassword } = loadMigrationConfig(process.env);
    return migrateDatabase(databaseUrl, (line) => process.stdout.write(`${line}\n`), { gatewayPassword: gatewayDbPassword });
  })
  .then((applied) => process.stdout.write(applied.length ? 'migrations done\n' : 'schema is up to date\n'))
  .catch((error: unknown) => {
    process.stderr.write(`migration failed: ${(error as Error).message}\n`);
    process.exit(1);
  });

import { loadConfig, loadGatewayDbPassword } from '@p2/config';
import { migrateDatabase } from './database/migrations';

/** `npm run migrate`: create the database if needed and apply pending migrations. */
Promise.resolve()
  .then(() =>
    migrateDatabase(process.env.DATABASE_URL?.trim() || loadConfig({ ...process.env, KAFKA_BROKERS: process.env.KAFKA_BROKERS || 'unused:1' }).databaseUrl, (line) => process.stdout.write(`${line}\n`), {
      gatewayPassword: loadGatewayDbPassword(process.env),
    }),
  )
  .then((applied) => process.stdout.write(applied.length ? 'migrations done\n' : 'schema is up to date\n'))
  .catch((error: unknown) => {
    process.stderr.write(`migration failed: ${(error as Error).message}\n`);
    process.exit(1);
  });

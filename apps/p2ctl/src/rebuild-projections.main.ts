import 'reflect-metadata';
import { ConfigError, DEFAULT_DATABASE_URL, readDatabaseUrl } from '@p2/config';
import { rebuildReadModels } from './commands/projections.command';

/** `npm run projections:rebuild`: what `p2ctl projections rebuild` does, with no Kafka and so no audit
 * entry (it needs only DATABASE_URL and, when the log holds sealed secrets, P2_KEY_ENCRYPTION_KEY). */
async function main(): Promise<number> {
  const problems: string[] = [];
  const databaseUrl = readDatabaseUrl(process.env, DEFAULT_DATABASE_URL, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return rebuildReadModels(databaseUrl, process.env);
}

main().then(
  (replayed) => process.stdout.write(`rebuilt the read models from ${replayed} events\n`),
  (error: unknown) => {
    process.stderr.write(`rebuild failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);

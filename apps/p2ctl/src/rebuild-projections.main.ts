import 'reflect-metadata';
import { DEFAULT_DATABASE_URL } from '@p2/config';
import { rebuildReadModels } from './commands/projections.command';

/** `npm run projections:rebuild`: what `p2ctl projections rebuild` does, with no Kafka and so no audit
 * entry (it needs only DATABASE_URL and, when the log holds sealed secrets, P2_KEY_ENCRYPTION_KEY). */
rebuildReadModels(process.env.DATABASE_URL?.trim() || DEFAULT_DATABASE_URL, process.env).then(
  (replayed) => process.stdout.write(`rebuilt the read models from ${replayed} events\n`),
  (error: unknown) => {
    process.stderr.write(`rebuild failed: ${(error as Error).message}\n`);
    process.exit(1);
  },
);

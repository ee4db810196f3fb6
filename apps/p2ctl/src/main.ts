import 'reflect-metadata';
import { processIo } from './process-io';
import { runP2ctl } from './p2ctl';

/** `npm run p2ctl -- <command>` (see USAGE in p2ctl.ts). */
runP2ctl(process.argv.slice(2), processIo()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`p2ctl: ${(error as Error)?.stack ?? error}\n`);
    process.exit(1);
  },
);

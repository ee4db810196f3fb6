import 'reflect-metadata';
import { processIo } from './process-io';
import { runMonitor } from './monitor/monitor';

/** `npm run monitor -- [--once]`: stops cleanly on Ctrl-C / SIGTERM. */
const stop = new AbortController();
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
runMonitor(process.argv.slice(2), processIo(), stop.signal).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`monitor: ${(error as Error)?.message ?? error}\n`);
    process.exit((error as Error)?.name === 'UsageError' ? 2 : 1);
  },
);

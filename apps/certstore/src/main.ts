import 'reflect-metadata';
import { ConfigError, loadConfig } from '@p2/config';
import { startCertstore } from './certstore.app';

async function main(): Promise<void> {
  const config = loadConfig(process.env, { role: 'certstore' });
  const app = await startCertstore(config);
  process.stdout.write(`[certstore] ready, health on ${await app.getUrl()}/healthz\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[certstore] failed to start: ${error instanceof ConfigError ? error.message : (error as Error)?.stack ?? error}\n`);
  process.exit(1);
});

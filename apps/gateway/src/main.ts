import 'reflect-metadata';
import { ConfigError, loadConfig } from '@p2/config';
import { startGateway } from './gateway.app';

async function main(): Promise<void> {
  const config = loadConfig(process.env, { role: 'gateway' });
  const app = await startGateway(config);
  process.stdout.write(`[gateway] listening on ${await app.getUrl()}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[gateway] failed to start: ${error instanceof ConfigError ? error.message : (error as Error)?.stack ?? error}\n`);
  process.exit(1);
});

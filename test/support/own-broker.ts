import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '..', '..');

/** Runs `node scripts/kafka.mjs <command>` for a broker of a test's own on `port` (the shared test
 * broker is never touched); `env` adds to the test's environment (topic partitions, broker settings). */
export function ownBrokerScript(port: number, command: 'start' | 'stop', env: NodeJS.ProcessEnv = {}, ...args: string[]): void {
  const run = spawnSync(process.execPath, ['scripts/kafka.mjs', command, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env, KAFKA_PORT: String(port), KAFKA_CONTROLLER_PORT: String(port + 1) },
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (run.status !== 0) throw new Error(`kafka.mjs ${command} failed: ${run.stderr}${run.stdout}`);
}

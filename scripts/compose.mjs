#!/usr/bin/env node
// `npm run compose -- <arguments>`: `docker compose <arguments>` (or docker-compose 1.x where the
// plugin is missing) on docker-compose.yml, with the images scripts/images.mjs resolves: the
// official ones where a registry answers, substitutes built on this machine otherwise.
//   npm run compose -- up -d        npm run compose -- ps        npm run compose -- down -v
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureImages, imageEnv } from './images.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `['docker', 'compose']` where the plugin answers, else `['docker-compose']`. */
export function composeCommand() {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  throw new Error('neither `docker compose` nor `docker-compose` is installed');
}

try {
  const [command, ...prefix] = composeCommand();
  const images = await ensureImages();
  const result = spawnSync(command, [...prefix, ...process.argv.slice(2)], {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...imageEnv(images), ...process.env },
  });
  process.exit(result.status ?? 1);
} catch (error) {
  process.stderr.write(`[compose] error: ${error.message}\n`);
  process.exit(1);
}

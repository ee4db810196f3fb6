import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

let cached: string | undefined;

/** The version of this server (package.json of the checkout or image it runs from). */
export function serverVersion(): string {
  if (cached) return cached;
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'polyproto-home-server') return (cached = pkg.version ?? 'unknown');
    }
    if (dirname(dir) === dir) return (cached = 'unknown');
  }
}

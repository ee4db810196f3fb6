import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const KAFKA_SCRIPT = pathToFileURL(path.resolve(__dirname, '..', 'scripts', 'kafka.mjs')).href;

// `npm start` and `npm run bench` import scripts/kafka.mjs and only then apply .env to
// process.env, so a P2_CACHE_DIR from .env must be read when the broker is fetched, not at import.
describe('scripts/kafka.mjs and P2_CACHE_DIR', () => {
  it('uses a P2_CACHE_DIR set after the module was imported', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'p2-kafka-cache-'));
    try {
      const program = `
        const kafka = await import(${JSON.stringify(KAFKA_SCRIPT)});
        process.env.P2_CACHE_DIR = ${JSON.stringify(cache)};
        const version = kafka.DEFAULT_KAFKA_VERSION;
        const dir = ${JSON.stringify(cache)} + '/kafka/' + version;
        const fs = await import('node:fs');
        fs.mkdirSync(dir + '/lib', { recursive: true });
        fs.writeFileSync(dir + '/lib/kafka_2.13-' + version + '.jar', '');
        fs.writeFileSync(dir + '/.complete', JSON.stringify({ dependencies: kafka.dependencyList(version) }));
        process.stdout.write(JSON.stringify(await kafka.fetchKafka({ quiet: true })));
      `;
      const env = { ...process.env };
      delete env.P2_CACHE_DIR;
      delete env.KAFKA_VERSION;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { env, encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      const fetched = JSON.parse(run.stdout) as { version: string; lib: string; fetched: boolean };
      expect(fetched).toEqual({ version: expect.any(String), lib: path.join(cache, 'kafka', fetched.version, 'lib'), fetched: false });
    } finally {
      fs.rmSync(cache, { recursive: true, force: true });
    }
  });
});

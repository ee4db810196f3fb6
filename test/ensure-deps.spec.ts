import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.resolve(__dirname, '..', 'scripts', 'ensure-deps.mjs');

type Entry = { version: string; optional?: boolean; dev?: boolean; link?: boolean; resolved?: string };
type Tree = Record<string, Entry>;

const lockOf = (packages: Tree) => ({
  name: 'fixture',
  version: '1.0.0',
  lockfileVersion: 3,
  requires: true,
  packages: { '': { name: 'fixture', version: '1.0.0' }, ...packages },
});

/**
 * A checkout in a temporary folder: package-lock.json with `lock`, and node_modules as npm leaves it
 * after installing `installed` (its hidden lockfile and one folder per package). The script is copied
 * in, so that it treats the folder as the project, and `npm` on PATH only records that it was called.
 */
function checkout(lock: Tree, installed?: Tree) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'p2-ensure-deps-'));
  fs.mkdirSync(path.join(root, 'scripts'));
  fs.copyFileSync(SCRIPT, path.join(root, 'scripts', 'ensure-deps.mjs'));
  fs.writeFileSync(path.join(root, 'package-lock.json'), JSON.stringify(lockOf(lock)));
  if (installed) {
    const hidden = lockOf(installed) as { packages: Record<string, unknown> };
    delete hidden.packages[''];
    fs.mkdirSync(path.join(root, 'node_modules'));
    fs.writeFileSync(path.join(root, 'node_modules', '.package-lock.json'), JSON.stringify(hidden));
    for (const [where, entry] of Object.entries(installed)) {
      if (entry.link) continue;
      fs.mkdirSync(path.join(root, where), { recursive: true });
      fs.writeFileSync(path.join(root, where, 'package.json'), JSON.stringify({ version: entry.version }));
    }
  }
  const bin = path.join(root, 'fake-bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'npm'), `#!/bin/sh\necho "$@" >> "${path.join(root, 'npm-calls')}"\n`, { mode: 0o755 });
  return { root, bin };
}

function stateOf(root: string): string {
  const module = path.join(root, 'scripts', 'ensure-deps.mjs');
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { depsState } from ${JSON.stringify(module)}; process.stdout.write(depsState())`],
    { encoding: 'utf8' },
  );
  expect(run.stderr).toBe('');
  return run.stdout;
}

/** Runs the script as `npm start` and `npm test` do; answers the npm commands it ran. */
function ensure(root: string, bin: string): string[] {
  const run = spawnSync(process.execPath, [path.join(root, 'scripts', 'ensure-deps.mjs')], {
    encoding: 'utf8',
    env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH}` },
  });
  expect(run.status).toBe(0);
  const calls = path.join(root, 'npm-calls');
  return fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').trim().split('\n') : [];
}

const made: string[] = [];
function fixture(lock: Tree, installed?: Tree) {
  const c = checkout(lock, installed);
  made.push(c.root);
  return c;
}
afterAll(() => {
  for (const root of made) fs.rmSync(root, { recursive: true, force: true });
});

const A = { 'node_modules/a': { version: '1.0.0' } };
const AB = { ...A, 'node_modules/b': { version: '2.0.0', dev: true } };

describe('scripts/ensure-deps.mjs', () => {
  it('installs with npm ci when node_modules is missing', () => {
    const { root, bin } = fixture(AB);
    expect(stateOf(root)).toBe('missing');
    expect(ensure(root, bin)).toEqual(['ci --no-audit --no-fund']);
  });

  it('leaves an installed tree alone when the lock is newer on disk but says the same (a new worktree, a touch)', () => {
    const { root, bin } = fixture(AB, AB);
    const future = new Date(Date.now() + 3_600_000);
    fs.utimesSync(path.join(root, 'package-lock.json'), future, future);
    expect(stateOf(root)).toBe('current');
    expect(ensure(root, bin)).toEqual([]);
  });

  it('reinstalls when the lock asks for another version, even though node_modules is newer on disk', () => {
    const { root, bin } = fixture({ ...A, 'node_modules/b': { version: '2.1.0', dev: true } }, AB);
    const past = new Date(Date.now() - 3_600_000);
    fs.utimesSync(path.join(root, 'package-lock.json'), past, past);
    expect(stateOf(root)).toBe('stale');
    expect(ensure(root, bin)).toEqual(['ci --no-audit --no-fund']);
  });

  it('reinstalls when the lock gained a package or lost one', () => {
    expect(stateOf(fixture(AB, A).root)).toBe('stale');
    expect(stateOf(fixture(A, AB).root)).toBe('stale');
  });

  it('does not miss an optional package that this platform skips', () => {
    const lock = { ...AB, 'node_modules/fsevents': { version: '2.3.3', dev: true, optional: true } };
    expect(stateOf(fixture(lock, AB).root)).toBe('current');
  });

  it('reinstalls when a package folder is gone though the hidden lockfile still lists it', () => {
    const { root } = fixture(AB, AB);
    fs.rmSync(path.join(root, 'node_modules', 'b'), { recursive: true });
    expect(stateOf(root)).toBe('stale');
  });

  it('compares where a linked package points', () => {
    const linked = (to: string) => ({ ...A, 'node_modules/c': { version: '1.0.0', link: true, resolved: to } });
    expect(stateOf(fixture(linked('libs/c'), linked('libs/c')).root)).toBe('current');
    expect(stateOf(fixture(linked('libs/d'), linked('libs/c')).root)).toBe('stale');
  });

  it("judges this repository's own node_modules current after npm ci", () => {
    expect(stateOf(path.resolve(__dirname, '..'))).toBe('current');
  });
});

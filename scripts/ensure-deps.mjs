#!/usr/bin/env node
// Installs the npm dependencies when they are missing or differ from package-lock.json, so that
// `npm start` and `npm test` work on a fresh clone without a manual `npm install`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Whether `root/node_modules` holds what `root/package-lock.json` asks for: 'current', 'missing' or
 * 'stale'. It compares contents, not modification times: a checkout whose lock is newer on disk but
 * identical (a new git worktree beside an installed tree, a `touch`) must not reinstall, since a
 * reinstall started in the middle of a test run empties node_modules under the processes using it.
 * npm writes node_modules/.package-lock.json (its "hidden lockfile") after every install: the same
 * `packages` map as the lock, less what this platform skipped (optional packages for another OS).
 */
export function depsState(root = ROOT) {
  const installed = readJson(path.join(root, 'node_modules', '.package-lock.json'));
  if (!installed?.packages) return 'missing';
  const lock = readJson(path.join(root, 'package-lock.json'));
  // without a lock there is nothing to compare with: what was installed stands
  if (!lock?.packages) return 'current';
  for (const [where, wanted] of Object.entries(lock.packages)) {
    if (where === '') continue;
    const got = installed.packages[where];
    if (!got) {
      if (wanted.optional || wanted.devOptional) continue;
      return 'stale';
    }
    if (got.version !== wanted.version || Boolean(got.link) !== Boolean(wanted.link)) return 'stale';
    if (wanted.link && got.resolved !== wanted.resolved) return 'stale';
  }
  for (const where of Object.keys(installed.packages)) {
    if (!lock.packages[where]) return 'stale';
    // a folder deleted by hand (or by an install killed half-way) leaves the hidden lockfile behind
    if (!installed.packages[where].link && !fs.existsSync(path.join(root, where, 'package.json'))) return 'stale';
  }
  return 'current';
}

export function ensureDeps() {
  const state = depsState();
  if (state === 'current') return;
  const args = fs.existsSync(path.join(ROOT, 'package-lock.json'))
    ? ['ci', '--no-audit', '--no-fund']
    : ['install', '--no-audit', '--no-fund'];
  process.stderr.write(`[deps] node_modules is ${state}: npm ${args[0]}\n`);
  const result = spawnSync('npm', args, { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('[deps] installing dependencies failed\n');
    process.exit(result.status ?? 1);
  }
}

/** Compiles apps and libs into dist/ (incremental). */
export function build() {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) {
    process.stderr.write('[build] TypeScript compilation failed\n');
    process.exit(result.status ?? 1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) ensureDeps();

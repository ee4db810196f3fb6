import fs from 'node:fs';
import path from 'node:path';

// semver ships no types of its own; these two functions are all this check needs
const semver: { minVersion(range: string): { major: number; version: string } | null; subset(sub: string, dom: string): boolean } = require('semver');

const ROOT = path.resolve(__dirname, '..');
const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

/**
 * README and package.json promise Node 20 (from the minor that package.json's `engines` names), and
 * CI and the images run Node 20; a dependency whose `engines` leaves that out runs on a Node its
 * authors do not support, and `npm ci` says so only as a warning (EBADENGINE) nobody reads. So the
 * locked tree is checked here: every package, dev tools included (they run on the same machines),
 * admits every Node 20 release from our floor on.
 */
describe('dependency engines', () => {
  const declared: string = readJson('package.json').engines.node;
  const floor = semver.minVersion(declared);

  it('package.json declares a Node 20 floor', () => {
    expect(floor?.major).toBe(20);
  });

  it('every locked package admits every Node 20 release from the declared floor on', () => {
    const ours = `>=${floor?.version} <${(floor?.major ?? 0) + 1}.0.0-0`;
    const packages: Record<string, { version?: string; engines?: { node?: string } }> = readJson('package-lock.json').packages;
    const entries = Object.entries(packages).filter(([key]) => key !== '');
    expect(entries.length).toBeGreaterThan(100);
    const unsupported = entries
      .filter(([, entry]) => entry.engines?.node !== undefined && !semver.subset(ours, entry.engines.node))
      .map(([key, entry]) => `${key.replace(/^.*node_modules\//, '')}@${entry.version} wants node ${entry.engines?.node}`);
    expect(unsupported).toEqual([]);
  });
});

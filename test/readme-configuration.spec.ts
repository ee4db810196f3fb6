import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '@p2/config';
import { operatorKafka } from '../apps/p2ctl/src/kafka-client';
import { operatorEnv } from '../apps/p2ctl/src/operator-env';
import { USAGE } from '../apps/p2ctl/src/p2ctl';

/**
 * README's configuration table and .env.example are what an operator reads before starting a
 * cluster, and they drifted from libs/config once (variables without their range, a table that
 * claimed every row was checked at start-up). So what the code reads and refuses is asked of the
 * code itself, here: the names are those an environment is asked for, the ranges those the
 * refusals name.
 */
const ROOT = path.resolve(__dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const ENV_EXAMPLE = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
const KEYS = { P2_KEY_ENCRYPTION_KEY: 'ab'.repeat(32), P2_TOKEN_KEY: 'cd'.repeat(32), P2_CHALLENGE_KEY: 'ef'.repeat(32) };
const BASE = { KAFKA_BROKERS: '127.0.0.1:9092', ...KEYS };
const VARIABLE = /^[A-Z][A-Z0-9_]*$/;

type Env = Record<string, string | undefined>;

/** `env`, noting every variable name read from it. */
function recording(env: Env, read: Set<string>): Env {
  return new Proxy(env, {
    get(target, name) {
      if (typeof name === 'string' && VARIABLE.test(name)) read.add(name);
      return typeof name === 'string' ? target[name] : undefined;
    },
  });
}

/** The text between the first line starting with `from` and the next line starting with `to`. */
function section(from: string, to: string): string {
  const lines = README.split('\n');
  const start = lines.findIndex((line) => line.startsWith(from));
  const end = lines.findIndex((line, i) => i > start && line.startsWith(to));
  expect(start).toBeGreaterThanOrEqual(0);
  expect(end).toBeGreaterThan(start);
  return lines.slice(start, end).join('\n');
}

/** Each variable named in the first cell of a row of README's configuration tables, with its row. */
function configurationRows(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const row of section('## Configuration', '## Routes').split('\n').filter((line) => line.startsWith('| `'))) {
    const firstCell = row.split('|')[1] ?? '';
    for (const [, name] of firstCell.matchAll(/`([^`]+)`/g)) if (VARIABLE.test(name!)) rows.set(name!, row);
  }
  return rows;
}

/** The refusals of loadConfig for one variable set to `value` (none when it is accepted). */
function problemsOf(name: string, value: string): readonly string[] {
  try {
    loadConfig({ ...BASE, [name]: value }, { warn: () => undefined });
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

/** Every variable loadConfig reads: once with the keys given, once making the development keys. */
function appVariables(): string[] {
  const read = new Set<string>();
  loadConfig(recording({ ...BASE }, read), { warn: () => undefined });
  const dir = mkdtempSync(path.join(tmpdir(), 'p2-readme-config-'));
  try {
    const devFiles = { P2_DEV_KEK_FILE: path.join(dir, 'kek'), P2_DEV_TOKEN_KEY_FILE: path.join(dir, 'token'), P2_DEV_CHALLENGE_KEY_FILE: path.join(dir, 'challenge') };
    loadConfig(recording({ KAFKA_BROKERS: BASE.KAFKA_BROKERS, ...devFiles }, read), { warn: () => undefined });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return [...read].sort();
}

describe('README configuration table and .env.example against libs/config', () => {
  const variables = appVariables();
  const rows = configurationRows();

  it('reads the variables through the environment (the recording sees them)', () => {
    expect(variables).toEqual(expect.arrayContaining(['PORT', 'P2_INSTANCE_ID', 'P2_DEV_KEK_FILE', 'P2_RATE_LIMIT_REGISTER', 'P2_LOGIN_LOCKOUT_MAX_SECONDS']));
  });

  it('names every variable the apps read in a row of the table and as an entry of .env.example', () => {
    expect(variables.filter((name) => !rows.has(name))).toEqual([]);
    expect(variables.filter((name) => !new RegExp(`^${name}=`, 'm').test(ENV_EXAMPLE))).toEqual([]);
  });

  it('gives each number the apps check the range they accept, as "min–max" in its row', () => {
    const wrong: string[] = [];
    let numbers = 0;
    for (const name of variables) {
      const refusal = problemsOf(name, '99999999999')
        .map((problem) => new RegExp(`^${name} must be between (\\d+) and (\\d+)`).exec(problem))
        .find(Boolean);
      if (!refusal) continue;
      numbers++;
      const range = `${refusal[1]}–${refusal[2]}`;
      if (!rows.get(name)?.includes(range)) wrong.push(`${name}: ${range}`);
    }
    expect(numbers).toBeGreaterThan(40);
    expect(wrong).toEqual([]);
  });

  it('gives each rate limit pair the range of each of its numbers', () => {
    const wrong: string[] = [];
    let pairs = 0;
    for (const name of variables) {
      const refusal = problemsOf(name, '0,0')
        .map((problem) => new RegExp(`^${name} must be .* \\((\\d+) to (\\d+) each\\)`).exec(problem))
        .find(Boolean);
      if (!refusal) continue;
      pairs++;
      if (!rows.get(name)?.includes(`each ${refusal[1]}–${refusal[2]}`)) wrong.push(name);
    }
    expect(pairs).toBe(7);
    expect(wrong).toEqual([]);
  });

  it('says which booleans the apps take, as they take them', () => {
    for (const [value, meant] of [['1', true], ['yes', true], ['TRUE', true], ['0', false], ['no', false], ['False', false]] as const) {
      expect(loadConfig({ ...BASE, P2_ROOT_PATHLEN_ZERO: value }).rootPathLenZero).toBe(meant);
    }
    expect(section('## Configuration', '| Variable |').replace(/\s+/g, ' ')).toContain('booleans are `true`/`false`, `1`/`0` or `yes`/`no` (any case)');
  });
});

describe("README's p2ctl environment against what p2ctl reads", () => {
  it('names every variable p2ctl reads or its usage text lists', () => {
    const read = new Set<string>();
    const env = recording({ KAFKA_BROKERS: '127.0.0.1:9092' }, read);
    operatorKafka(operatorEnv(env), { env, out: () => undefined, err: () => undefined, readStdin: () => Promise.resolve('') }, 'readme-check');
    const listed = USAGE.slice(USAGE.indexOf('environment:')).match(/\b[A-Z][A-Z0-9_]{2,}\b/g) ?? [];
    const names = [...new Set([...read, ...listed])].sort();
    expect(names).toEqual(expect.arrayContaining(['NODE_ENV', 'P2_KEY_ENCRYPTION_KEY', 'P2_ADMIN_PASSWORD', 'P2CTL_DEBUG']));
    const p2ctl = section('### `npm run p2ctl`', '| Command |');
    expect(names.filter((name) => !p2ctl.includes(`\`${name}\``))).toEqual([]);
  });
});

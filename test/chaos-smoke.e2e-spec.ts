import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SCENARIOS, type ScenarioFigures } from '../bench/src/chaos/chaos-run';

const ROOT = resolve(__dirname, '..');

/** `npm run chaos -- --smoke`: every fault scenario of the chaos suite, briefly, on a cluster of its
 * own (two gateways and two certstores as separate processes, its own Kafka broker and its own
 * PostgreSQL server from initdb). Only the correctness figures are asserted, never timings:
 * nothing accepted is lost or applied twice, nothing is dead-lettered, every 5xx is a 503 with the
 * uniform body, and the read models equal a rebuild from the log after each scenario. */
describe('npm run chaos (smoke run)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2-chaos-smoke-'));
  const output = join(dir, 'figures.json');
  let exitCode: number | null;
  let stdout = '';
  let stderr = '';

  beforeAll(async () => {
    const child = spawn(process.execPath, ['scripts/chaos.mjs', '--smoke', '--json', output], { cwd: ROOT, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    exitCode = await new Promise((done) => child.once('exit', (code) => done(code)));
  }, 1_200_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const figures = (): ScenarioFigures[] => (JSON.parse(readFileSync(output, 'utf8')) as { figures: ScenarioFigures[] }).figures;

  it('runs every scenario and exits 0', () => {
    expect({ exitCode, log: exitCode === 0 ? '' : `${stdout}\n${stderr}`.slice(-4000) }).toEqual({ exitCode: 0, log: '' });
    expect(existsSync(output)).toBe(true);
    expect(figures().map((f) => f.scenario)).toEqual([...SCENARIOS]);
  });

  it.each(SCENARIOS.map((s) => [s]))('%s: writes were accepted, none lost, none applied twice, none dead-lettered, none left unanswered', (scenario) => {
    const f = figures().find((x) => x.scenario === scenario)!;
    expect(f.acceptedWrites).toBeGreaterThan(0);
    expect({ lost: f.lost, doubled: f.doubled, deadLettered: f.deadLettered, unknown: f.unknownWrites }).toEqual({ lost: 0, doubled: 0, deadLettered: 0, unknown: 0 });
  });

  it.each(SCENARIOS.map((s) => [s]))('%s: every answer a success or a 503 with the uniform body (no refusal, no other 5xx), and the read models equal a rebuild', (scenario) => {
    const f = figures().find((x) => x.scenario === scenario)!;
    expect({ other: f.other, samples: f.other > 0 ? f.samples : [] }).toEqual({ other: 0, samples: [] });
    expect(f.projectionsEqualRebuild).toBe(true);
  });

  it('prints the table and removes the PostgreSQL server it made', () => {
    expect(stdout).toMatch(/^\| scenario \| requests \|/m);
    for (const scenario of SCENARIOS) expect(stdout).toContain(`| ${scenario} |`);
    const made = /PostgreSQL of its own on 127\.0\.0\.1:\d+ \(([^)]+)\)/.exec(stderr);
    expect(made).not.toBeNull();
    expect(existsSync(made![1]!)).toBe(false);
  });
});

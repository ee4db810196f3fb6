import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createKafka, type KafkaLogger } from '@p2/messaging';
import { kafkaBrokers } from '@p2/testing';

const KAFKA_SCRIPT = pathToFileURL(path.resolve(__dirname, '..', 'scripts', 'kafka.mjs')).href;
const quiet: KafkaLogger = { error: () => undefined, warn: () => undefined, log: () => undefined };

/** Runs `body` (an async function body given `kafka`, the script's module) in a process of its own,
 * as `npm start` and `npm run kafka` do: the script reads its settings from that process's
 * environment. Returns what the body returned, or the error's message. */
function inScriptProcess(body: string, env: Record<string, string> = {}): { ok: true; value: unknown } | { ok: false; message: string } {
  const program = `
    const kafka = await import(${JSON.stringify(KAFKA_SCRIPT)});
    try {
      const value = await (async () => { ${body} })();
      process.stdout.write(JSON.stringify({ ok: true, value }));
    } catch (err) {
      process.stdout.write(JSON.stringify({ ok: false, message: err.message }));
    }
  `;
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!('KAFKA_REPLICATION_FACTOR' in env)) delete childEnv.KAFKA_REPLICATION_FACTOR;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', program], { env: childEnv, encoding: 'utf8', timeout: 90_000 });
  if (run.status !== 0) throw new Error(`the script process failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout) as { ok: true; value: unknown } | { ok: false; message: string };
}

/** How many copies `scripts/kafka.mjs` asks for when it creates the topics: a production cluster must
 * not get one copy of the commands and events because nobody said otherwise. */
describe('scripts/kafka.mjs: copies of the topics it creates', () => {
  it('asks for as many copies as the cluster has brokers, up to three, and two in-sync ones from three on', () => {
    const settings = inScriptProcess(`return [1, 2, 3, 5].map((brokers) => kafka.topicReplication(brokers, undefined));`);
    expect(settings).toEqual({
      ok: true,
      value: [{ replicationFactor: 1 }, { replicationFactor: 2 }, { replicationFactor: 3, minInSyncReplicas: 2 }, { replicationFactor: 3, minInSyncReplicas: 2 }],
    });
  });

  it('takes KAFKA_REPLICATION_FACTOR up to the brokers there are, and refuses what is not a positive count', () => {
    expect(inScriptProcess(`return [kafka.topicReplication(5, '5'), kafka.topicReplication(5, '1'), kafka.topicReplication(5, '')];`)).toEqual({
      ok: true,
      value: [{ replicationFactor: 5, minInSyncReplicas: 2 }, { replicationFactor: 1 }, { replicationFactor: 3, minInSyncReplicas: 2 }],
    });
    expect(inScriptProcess(`return kafka.topicReplication(1, '2');`)).toEqual({
      ok: false,
      message: 'KAFKA_REPLICATION_FACTOR=2, but the cluster has 1 broker: at most 1 copies',
    });
    for (const raw of ['0', '-1', '1.5', 'three']) {
      expect(inScriptProcess(`return kafka.topicReplication(3, ${JSON.stringify(raw)});`)).toEqual({
        ok: false,
        message: `KAFKA_REPLICATION_FACTOR must be a positive integer, got "${raw}"`,
      });
    }
  });

  describe('on the real broker (one broker)', () => {
    const prefix = `repl-${randomBytes(4).toString('hex')}.`;
    const brokers = kafkaBrokers().join(',');
    const admin = createKafka({ brokers: kafkaBrokers(), clientId: 'p2-replication-test', logger: quiet }).admin();

    beforeAll(() => admin.connect());
    afterAll(async () => {
      const ours = (await admin.listTopics()).filter((topic) => topic.startsWith(prefix));
      if (ours.length > 0) await admin.deleteTopics({ topics: ours });
      await admin.disconnect();
    });

    it('refuses more copies than the cluster has brokers and creates nothing', async () => {
      const outcome = inScriptProcess(`return kafka.ensureTopics(${JSON.stringify(brokers)}, {}, ${JSON.stringify(prefix)});`, { KAFKA_REPLICATION_FACTOR: '2' });
      expect(outcome).toEqual({ ok: false, message: expect.stringContaining('KAFKA_REPLICATION_FACTOR=2, but the cluster has 1 broker') });
      expect((await admin.listTopics()).filter((topic) => topic.startsWith(prefix))).toEqual([]);
    });

    it('creates every topic with one copy on a cluster of one broker', async () => {
      const outcome = inScriptProcess(`return kafka.ensureTopics(${JSON.stringify(brokers)}, {}, ${JSON.stringify(prefix)});`);
      expect(outcome).toEqual({ ok: true, value: { created: expect.any(Array), existing: [] } });
      const created = (outcome as { value: { created: string[] } }).value.created;
      expect(created).toHaveLength(6);
      const { topics } = await admin.fetchTopicMetadata({ topics: created });
      expect(topics).toHaveLength(6);
      for (const topic of topics) {
        expect(topic.partitions.length).toBeGreaterThan(0);
        for (const partition of topic.partitions) expect(partition.replicas).toHaveLength(1);
      }
      // with every topic there, a malformed KAFKA_REPLICATION_FACTOR is still refused, not ignored
      expect(inScriptProcess(`return kafka.ensureTopics(${JSON.stringify(brokers)}, {}, ${JSON.stringify(prefix)});`, { KAFKA_REPLICATION_FACTOR: 'three' })).toEqual({
        ok: false,
        message: 'KAFKA_REPLICATION_FACTOR must be a positive integer, got "three"',
      });
    });
  });
});

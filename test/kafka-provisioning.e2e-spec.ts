import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { createKafka, type KafkaLogger } from '@p2/messaging';
import { ownBrokerScript } from './support/own-broker';

const ROOT = resolve(__dirname, '..');
const PORT = Number(process.env.KAFKA_PROVISIONING_TEST_PORT ?? 19592);
const RUN_DIR = resolve(ROOT, '.run', `kafka-${PORT}`);
const quiet: KafkaLogger = { error: () => undefined, warn: () => undefined, log: () => undefined };

/** This test's own broker; KAFKA_JAVA_OPTS and KAFKA_EXTRA_PROPERTIES are the test's to set. */
function kafka(command: 'start' | 'stop', env: NodeJS.ProcessEnv = {}, ...args: string[]): void {
  ownBrokerScript(PORT, command, { KAFKA_JAVA_OPTS: '', KAFKA_EXTRA_PROPERTIES: '', P2_COMMAND_PARTITIONS: '2', P2_EVENT_PARTITIONS: '2', P2_REPLY_PARTITIONS: '1', ...env }, ...args);
}

/** The broker's server.properties as the broker reads it: the last value of a key wins. */
function brokerProperties(): Map<string, string> {
  const properties = new Map<string, string>();
  for (const line of readFileSync(resolve(RUN_DIR, 'server.properties'), 'utf8').split('\n')) {
    const match = /^([a-z0-9._-]+)=(.*)$/.exec(line.trim());
    if (match) properties.set(match[1]!, match[2]!);
  }
  return properties;
}

/** The running broker's JVM options, from its command line. */
function brokerJvmOptions(): string[] {
  const pid = readFileSync(resolve(RUN_DIR, 'kafka.pid'), 'utf8').trim();
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((arg) => arg.startsWith('-XX:'));
}

async function brokerAnswers(): Promise<string[]> {
  const admin = createKafka({ brokers: [`127.0.0.1:${PORT}`], clientId: 'p2-provisioning-test', logger: quiet }).admin();
  await admin.connect();
  try {
    return await admin.listTopics();
  } finally {
    await admin.disconnect();
  }
}

/** The broker `scripts/kafka.mjs` provisions (npm start, the bench, the tests without Docker) is
 * sized to the machine, and KAFKA_EXTRA_PROPERTIES / KAFKA_JAVA_OPTS override it
 * (docs/benchmarks.md#broker-threads). */
describe('the broker scripts/kafka.mjs starts (own broker)', () => {
  afterAll(() => kafka('stop', {}, '--purge'));

  it('has thread pools sized to the cores and the parallel collector by default', async () => {
    kafka('start');
    const cores = availableParallelism();
    const properties = brokerProperties();
    expect([properties.get('num.network.threads'), properties.get('num.io.threads'), properties.get('background.threads')]).toEqual([
      String(Math.max(1, Math.floor(cores / 2))),
      String(Math.max(2, cores)),
      String(Math.max(2, cores)),
    ]);
    const options = brokerJvmOptions();
    expect(options).toContain('-XX:+UseParallelGC');
    expect(options).toContain(`-XX:ParallelGCThreads=${Math.max(1, Math.floor(cores / 2))}`);
    expect(options).not.toContain('-XX:+UseG1GC');
    expect(await brokerAnswers()).toEqual(expect.arrayContaining(['p2.core.commands.v1']));
    kafka('stop');
  }, 240_000);

  it('takes KAFKA_EXTRA_PROPERTIES over its own lines and the collector KAFKA_JAVA_OPTS names', async () => {
    kafka('start', { KAFKA_EXTRA_PROPERTIES: 'num.io.threads=3  num.network.threads=2', KAFKA_JAVA_OPTS: '-XX:+UseSerialGC' });
    const properties = brokerProperties();
    expect([properties.get('num.io.threads'), properties.get('num.network.threads')]).toEqual(['3', '2']);
    const options = brokerJvmOptions();
    // one collector: the JVM refuses to start with two
    expect(options.filter((o) => /^-XX:\+Use\w+GC$/.test(o))).toEqual(['-XX:+UseSerialGC']);
    expect(await brokerAnswers()).toEqual(expect.arrayContaining(['p2.core.commands.v1']));
  }, 240_000);
});

import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { TOPIC_RETENTION_MS, topicNames } from '@p2/contracts';

export function kafkaBrokers(): string[] {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run the suite with `npm test`, which provisions Kafka.');
  return brokers.split(',');
}

/** Topic-level settings a test gives its events or replies topic (e.g. a small `max.message.bytes`). */
export interface TestTopicOptions {
  readonly eventsConfig?: Readonly<Record<string, string>>;
  readonly repliesConfig?: Readonly<Record<string, string>>;
}

const entries = (config: Readonly<Record<string, string>> = {}) => Object.entries(config).map(([name, value]) => ({ name, value }));

/** Creates the project's topics under a fresh prefix, so test files never read each other's
 * messages; returns the prefix and a function that deletes them. */
export async function createTestTopics(
  label = 'test',
  partitions = { commands: 4, replies: 2, events: 2 },
  options: TestTopicOptions = {},
): Promise<{ prefix: string; remove(): Promise<void> }> {
  const prefix = `t-${label.replace(/[^a-z0-9]/gi, '').toLowerCase().slice(0, 20)}-${randomBytes(4).toString('hex')}.`;
  const names = topicNames(prefix);
  const kafka = new Kafka({ clientId: 'p2-tests', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: names.commands, numPartitions: partitions.commands },
        { topic: names.replies, numPartitions: partitions.replies, configEntries: entries(options.repliesConfig) },
        { topic: names.events, numPartitions: partitions.events, configEntries: entries(options.eventsConfig) },
        { topic: names.deadLetters, numPartitions: 1 },
        { topic: names.telemetry, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: String(TOPIC_RETENTION_MS.telemetry) }] },
        { topic: names.audit, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: String(TOPIC_RETENTION_MS.audit) }] },
      ],
    });
  } finally {
    await admin.disconnect();
  }
  return {
    prefix,
    async remove() {
      const cleanup = kafka.admin();
      await cleanup.connect();
      try {
        await cleanup.deleteTopics({ topics: Object.values(names) });
      } finally {
        await cleanup.disconnect();
      }
    },
  };
}

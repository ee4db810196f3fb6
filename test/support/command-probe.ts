import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import { Client } from 'pg';
import { HEADER, topicNames, type Reply } from '@p2/contracts';
import { eventually, kafkaBrokers } from '@p2/testing';

/** Talks to the certstores the way a gateway does, but straight on Kafka: produces raw command
 * envelopes (well-formed or not) and collects the replies addressed to it. */
export class CommandProbe {
  readonly replyTo = `probe-${randomUUID()}`;
  readonly kafka = new Kafka({ clientId: 'e2e-command-probe', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  private readonly replies = new Map<string, Reply[]>();
  private producer?: Producer;
  private consumer?: Consumer;

  constructor(private readonly topicPrefix: string) {}

  get topics() {
    return topicNames(this.topicPrefix);
  }

  async start(): Promise<void> {
    this.producer = this.kafka.producer();
    await this.producer.connect();
    this.consumer = this.kafka.consumer({ groupId: `e2e-probe-${randomUUID()}` });
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.topics.replies, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        if (message.headers?.[HEADER.replyTo]?.toString() !== this.replyTo) return;
        const reply = JSON.parse(message.value!.toString()) as Reply;
        this.replies.set(reply.commandId, [...(this.replies.get(reply.commandId) ?? []), reply]);
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
  }

  /** An envelope around any type and data (the contract is not checked here). */
  envelope(type: string, data: unknown, commandId: string = randomUUID()): { type: string; data: unknown; metadata: Record<string, unknown> } {
    return { type, data, metadata: { messageId: commandId, correlationId: commandId, causationId: commandId, occurredAt: new Date().toISOString(), schemaVersion: 1 } };
  }

  /** Produces the envelopes in ONE request to one partition, so a certstore fetches them as one batch. */
  async send(envelopes: readonly { type: string; metadata: Record<string, unknown> }[], partition = 0): Promise<void> {
    await this.producer!.send({
      topic: this.topics.commands,
      messages: envelopes.map((e) => ({ partition, key: 'probe', value: JSON.stringify(e), headers: { [HEADER.replyTo]: this.replyTo } })),
    });
  }

  /** The replies to `commandId` once `count` arrived. */
  async repliesTo(commandId: string, count = 1, timeoutMs = 20000): Promise<Reply[]> {
    return eventually(() => this.replies.get(commandId) ?? [], { until: (r) => r.length >= count, timeoutMs, what: `replies to ${commandId}` });
  }

  /** The replies to `commandId` received so far (none yet: empty), for a poll that looks at more than them. */
  received(commandId: string): readonly Reply[] {
    return this.replies.get(commandId) ?? [];
  }

  /** How many records the dead-letter topic holds. */
  async deadLetterCount(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(this.topics.deadLetters)).reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  async replyFor(commandId: string, timeoutMs?: number): Promise<Reply> {
    return (await this.repliesTo(commandId, 1, timeoutMs))[0]!;
  }
}

/** A client of the cluster's database and a probe on its commands topic, both started: what the
 * suites that send commands past the gateway open beside their cluster. */
export async function watchCluster(cluster: { readonly databaseUrl: string; readonly topicPrefix: string }): Promise<{ db: Client; probe: CommandProbe }> {
  const db = new Client({ connectionString: cluster.databaseUrl });
  await db.connect();
  const probe = new CommandProbe(cluster.topicPrefix);
  await probe.start();
  return { db, probe };
}

/** Stops what watchCluster opened, then the cluster; any of them may be missing (a beforeAll that failed). */
export async function stopWatched({ probe, db, cluster }: { probe?: CommandProbe; db?: Client; cluster?: { stop(): Promise<void> } }): Promise<void> {
  await probe?.stop();
  await db?.end();
  await cluster?.stop();
}

import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import type { AppConfig } from '@p2/config';
import { HEADER, topicNames, type Message } from '@p2/contracts';
import { CommandBus, ConsumerSupervisor, type KafkaLogger } from '@p2/messaging';
import { APP_CONFIG } from '@p2/platform';
import { createTestTopics, eventually, kafkaBrokers } from '@p2/testing';
import { CommandSender } from '../apps/gateway/src/messaging/command-sender.service';
import { TestCluster } from './support/cluster';
import { http } from './support/http';

const quiet: KafkaLogger = { error: () => undefined, warn: () => undefined, log: () => undefined };

/** kafkajs restarts a crashed consumer only after a retriable error; after any other (a broker
 * restart's KafkaJSGroupCoordinatorNotFound, an error thrown by the handler) it emits `crash` with
 * `restart: false` and stays stopped. ConsumerSupervisor restarts it (docs/architecture.md#kafka-down). */
describe('a consumer that kafkajs gives up on (real Kafka)', () => {
  let kafka: Kafka;
  let producer: Producer;
  let names: ReturnType<typeof topicNames>;
  let remove: () => Promise<void>;
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    const topics = await createTestTopics('consumerrestart', { commands: 1, replies: 1, events: 1 });
    remove = topics.remove;
    names = topicNames(topics.prefix);
    kafka = new Kafka({ clientId: 'p2-consumer-restart-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
    producer = kafka.producer();
    await producer.connect();
  });

  afterAll(async () => {
    for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
    await producer?.disconnect();
    await remove?.();
  });

  /** A consumer whose handler throws a TypeError (not retriable for kafkajs) on the record "poison", once. */
  function poisonedConsumer(group: string) {
    const consumer = kafka.consumer({ groupId: `${group}-${Date.now()}`, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
    consumers.push(consumer);
    const seen: string[] = [];
    const crashes: { restart: boolean; name: string }[] = [];
    let poisoned = false;
    consumer.on(consumer.events.CRASH, ({ payload }) => crashes.push({ restart: payload.restart, name: (payload.error as Error).name }));
    const config = {
      eachMessage: async ({ message }: { message: { value: Buffer | null } }) => {
        const value = message.value?.toString() ?? '';
        if (value === 'poison' && !poisoned) {
          poisoned = true;
          throw new TypeError("Cannot read properties of null (reading 'commandId')"); // as a handler's bug throws it
        }
        seen.push(value);
      },
    };
    return { consumer, seen, crashes, config };
  }

  it('kafkajs itself does not restart it (crash with restart: false)', async () => {
    const topic = names.events;
    await producer.send({ topic, messages: [{ value: 'poison' }] });
    const { consumer, crashes, config } = poisonedConsumer('p2-test-unsupervised');
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run(config);
    await eventually(async () => crashes, { until: (c) => c.length > 0, timeoutMs: 30_000, intervalMs: 100 });
    expect(crashes[0]).toEqual({ restart: false, name: 'KafkaJSNonRetriableError' });
  }, 60_000);

  it('ConsumerSupervisor restarts it, and it reads on from where it was', async () => {
    const topic = names.commands;
    await producer.send({ topic, messages: [{ value: 'poison' }] });
    const { consumer, seen, crashes, config } = poisonedConsumer('p2-test-supervised');
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const supervisor = new ConsumerSupervisor(consumer, config, { name: 'test', logger: quiet, retryDelayMs: 100 });
    await supervisor.run();
    await eventually(async () => crashes, { until: (c) => c.length > 0, timeoutMs: 30_000, intervalMs: 100 });
    expect(crashes[0]!.restart).toBe(false);
    await producer.send({ topic, messages: [{ value: 'after' }] });
    await eventually(async () => seen, { until: (s) => s.includes('after'), timeoutMs: 60_000, intervalMs: 200 });
    // the poison record was not committed: the restarted consumer read it again, from where it was
    expect(seen).toEqual(['poison', 'after']);
    expect(supervisor.restarts).toBeGreaterThanOrEqual(1);
    await supervisor.stop();
  }, 90_000);

  it('stopped while kafkajs is taking a crashed consumer down to restart it, it stays stopped', async () => {
    const topic = names.replies;
    const retryTime = 300;
    const consumer = kafka.consumer({ groupId: `p2-test-stop-in-crash-${Date.now()}`, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100, retry: { retries: 0, initialRetryTime: retryTime } });
    consumers.push(consumer);
    const crashes: boolean[] = [];
    let joins = 0;
    consumer.on(consumer.events.CRASH, ({ payload }) => crashes.push(payload.restart));
    consumer.on(consumer.events.GROUP_JOIN, () => joins++);
    const retriable = Object.assign(new Error('a retriable failure'), { retriable: true });
    const supervisor = new ConsumerSupervisor(consumer, { eachMessage: async () => Promise.reject(retriable) }, { name: 'test', logger: quiet, retryDelayMs: 100 });
    // the process stops the consumer at the worst moment: while the crash's own disconnect runs
    // (kafkajs emits STOP from it), before kafkajs arms its restart timer
    let stopped: Promise<void> | undefined;
    consumer.on(consumer.events.STOP, () => (stopped ??= supervisor.stop()));
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await supervisor.run();
    await producer.send({ topic, messages: [{ value: 'fails' }] });
    await eventually(async () => crashes, { until: (c) => c.length > 0, timeoutMs: 30_000, intervalMs: 50 });
    expect(crashes).toEqual([true]);
    await stopped;
    const joinsAtStop = joins;
    // an absence cannot be polled for: wait past kafkajs' restart delay, with room to join a group
    await new Promise((resolve) => setTimeout(resolve, retryTime + 3000));
    expect(joins).toBe(joinsAtStop);
    expect(crashes).toEqual([true]);
  }, 60_000);
});

/** A record on a gateway's reply partition that is JSON but no reply must not end its reply reader:
 * a gateway without one answers every write 503 for as long as it runs. */
describe("a gateway's reply reader (real Kafka)", () => {
  let cluster: TestCluster;
  let producer: Producer;

  beforeAll(async () => {
    cluster = await TestCluster.start({ label: 'replyreader' });
    producer = new Kafka({ clientId: 'p2-reply-reader-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
  }, 120_000);

  afterAll(async () => {
    await producer?.disconnect();
    await cluster?.stop();
  });

  const register = (name: string) => http('POST', `${cluster.url}/.p2/core/v1/register`, { json: { actor_name: name, auth_payload: { password: 'correct horse battery staple' } } });

  it('goes on answering writes after a reply record it cannot read', async () => {
    const app = cluster.gatewayApp(0);
    const config = app.get<AppConfig>(APP_CONFIG);
    const sender = app.get(CommandSender);
    // the first command of a fresh cluster may miss the deadline while the certstore's group settles
    expect((await eventually(() => register('first'), { until: (r) => r.status === 201, timeoutMs: 60_000, intervalMs: 500 })).status).toBe(201);
    await producer.send({
      topic: topicNames(cluster.topicPrefix).replies,
      messages: [{ partition: sender.replyPartition, value: 'null', headers: { [HEADER.replyTo]: config.instanceId } }],
    });
    // the record is ahead of any reply to the next command on the same partition
    const after = await register('second');
    expect({ status: after.status, body: after.body }).toEqual({ status: 201, body: { fid: 'second@example.com' } });
    expect(sender.isReady).toBe(true);
  }, 120_000);
});

/** A reader that was away (restarted after a crash, or after a broker restart) goes on from the last
 * reply it read: a reply written meanwhile still reaches the request waiting for it. */
describe('a reply reader back from a restart (real Kafka)', () => {
  let producer: Producer;
  let bus: CommandBus;
  let remove: () => Promise<void>;

  afterAll(async () => {
    await bus?.stop();
    await producer?.disconnect();
    await remove?.();
  });

  it('reads the replies written while it was away', async () => {
    const topics = await createTestTopics('replyresume', { commands: 1, replies: 1, events: 1 });
    remove = topics.remove;
    const names = topicNames(topics.prefix);
    const kafka = new Kafka({ clientId: 'p2-reply-resume-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    producer = kafka.producer();
    await producer.connect();
    const instanceId = `resume-${randomUUID()}`;
    bus = new CommandBus({ kafka, topics: names, instanceId, timeoutMs: 20_000, lingerMs: 0, logger: quiet });
    await bus.start();
    const command = (): Message => ({ type: 'IssueChallenge', data: {}, metadata: { messageId: randomUUID(), correlationId: randomUUID() } }) as unknown as Message;
    const answer = (commandId: string) =>
      producer.send({
        topic: names.replies,
        messages: [{ partition: bus.replyPartition, value: JSON.stringify({ commandId, ok: true, result: { type: 'ChallengeIssued' } }), headers: { [HEADER.replyTo]: instanceId } }],
      });

    const first = command();
    const firstReply = bus.send(first, 'k');
    await answer(first.metadata.messageId);
    expect(await firstReply).toEqual(expect.objectContaining({ commandId: first.metadata.messageId, ok: true }));

    const second = command();
    const secondReply = bus.send(second, 'k');
    secondReply.catch(() => undefined);
    // the reader away, as kafkajs or the supervisor leaves it between a crash and its restart
    const internals = bus as unknown as { consumer: Consumer; supervisor: ConsumerSupervisor };
    await internals.consumer.stop();
    await answer(second.metadata.messageId);
    await internals.supervisor.run();
    await expect(secondReply).resolves.toEqual(expect.objectContaining({ commandId: second.metadata.messageId, ok: true }));
  }, 90_000);
});

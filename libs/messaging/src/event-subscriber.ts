import type { Consumer, Kafka } from 'kafkajs';
import { isMessage, type Message } from '@p2/contracts';
import { ConsumerSupervisor } from './consumer-supervisor';
import type { KafkaLogger } from './kafka.factory';

export interface EventSubscriberOptions {
  readonly kafka: Kafka;
  /** The events topic (with its prefix). */
  readonly topic: string;
  /** Unique per process: every subscriber reads the whole topic in a consumer group of its own. */
  readonly groupId: string;
  /** Called for every event, in order per partition. */
  readonly onEvent: (event: Message) => Promise<void> | void;
  /** A failure of onEvent: the event is skipped (a stalled partition would stall every push). */
  readonly onError: (error: unknown, event: Message) => void;
  /** Called after every (re)join of the group: events published while not a member were not seen. */
  readonly onJoined?: () => void;
  /** Called once the consumer reads from its start offsets after a (re)join: from then on every
   * event published is delivered, until onLeft. */
  readonly onPositioned?: () => void;
  /** Called when the consumer stops being a member (rebalance, crash, disconnect, stop): events
   * published from then on until the next onPositioned may never be delivered. */
  readonly onLeft?: () => void;
  /** Where a restart of the consumer is told (default: stderr). */
  readonly logger?: KafkaLogger;
}

/**
 * Reads the events topic from its newest offset, for processes that react to what just happened
 * (a gateway pushing to its WebSockets) and catch up from PostgreSQL, not from Kafka. Offsets are
 * never committed: a restarted process starts at the newest offset again, and its group, never
 * holding offsets, disappears with its last member.
 */
export class EventSubscriber {
  private readonly consumer: Consumer;
  private supervisor?: ConsumerSupervisor;

  constructor(private readonly options: EventSubscriberOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 100,
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
    });
  }

  /** Resolves once the consumer has its partitions and its start offsets, so that every event
   * published afterwards is delivered. */
  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topic, fromBeginning: false });
    let awaitingFetch = false;
    let firstPosition: (() => void) | undefined;
    const positioned = new Promise<void>((resolve) => (firstPosition = resolve));
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
      awaitingFetch = true;
      this.options.onJoined?.();
    });
    // as in CommandBus.start: "latest" is pinned by the first fetch after the join
    this.consumer.on(this.consumer.events.FETCH, () => {
      if (!awaitingFetch) return;
      awaitingFetch = false;
      this.options.onPositioned?.();
      firstPosition?.();
    });
    for (const left of [this.consumer.events.REBALANCING, this.consumer.events.CRASH, this.consumer.events.DISCONNECT, this.consumer.events.STOP]) {
      this.consumer.on(left, () => {
        awaitingFetch = false;
        this.options.onLeft?.();
      });
    }
    const logger: KafkaLogger = this.options.logger ?? { error: (l) => process.stderr.write(`${l}\n`), warn: (l) => process.stderr.write(`${l}\n`), log: () => undefined };
    // kafkajs gives up on a consumer after some errors of a broker restart (ConsumerSupervisor)
    this.supervisor = new ConsumerSupervisor(this.consumer, {
      autoCommit: false,
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        let event: unknown;
        try {
          event = JSON.parse(message.value.toString());
        } catch {
          return;
        }
        if (!isMessage(event)) return;
        try {
          await this.options.onEvent(event);
        } catch (error) {
          this.options.onError(error, event);
        }
      },
    }, { name: this.options.groupId, logger });
    await this.supervisor.run();
    await positioned;
  }

  async stop(): Promise<void> {
    if (this.supervisor) await this.supervisor.stop();
    else await this.consumer.disconnect();
  }
}

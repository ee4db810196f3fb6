import { randomUUID } from 'node:crypto';
import { Partitioners, type Consumer, type Kafka, type Producer } from 'kafkajs';
import { CoalescingSender } from './coalescing-sender';
import { ConsumerSupervisor } from './consumer-supervisor';
import type { KafkaLogger } from './kafka.factory';
import { OffsetsProbe, type PartitionLag } from './offsets-probe';
import { MAX_REQUEST_BYTES, recordBytes } from './record-chunks';
import { ownPartitionsAssigner, partitionOfKey } from './reply-partition';
import { HEADER, type Message, type Reply, type TopicNames } from '@p2/contracts';

/** No reply within the deadline: the caller answers 503 and names the command id. */
export class ReplyTimeoutError extends Error {
  readonly code = 'MESSAGING_REPLY_TIMEOUT';
  constructor(
    readonly commandId: string,
    readonly timeoutMs: number,
  ) {
    super(`No reply to command ${commandId} within ${timeoutMs} ms.`);
    this.name = 'ReplyTimeoutError';
  }
}

/** The command could not even be handed to Kafka. */
export class CommandNotSentError extends Error {
  readonly code = 'MESSAGING_NOT_SENT';
  constructor(
    readonly commandId: string,
    cause: unknown,
  ) {
    super(`Command ${commandId} could not be sent to Kafka: ${(cause as Error)?.message ?? cause}`);
    this.name = 'CommandNotSentError';
  }
}

/**
 * The most record bytes (key, value, headers) one command may take. A command is one record, and
 * one record over what the topic takes (`message.max.bytes`, 1 MiB by default) is refused by the
 * broker on every retry: the request that made it could only ever get a 503. The bound is the size
 * of one produce request (MAX_REQUEST_BYTES), so that a command always fits a request alone, half
 * the broker's default with room for framing.
 */
export const MAX_COMMAND_BYTES = MAX_REQUEST_BYTES;

/** The command is larger than MAX_COMMAND_BYTES: it was not sent, so nothing of it is applied,
 * and a retry of the same request is refused alike. */
export class CommandTooLargeError extends Error {
  readonly code = 'MESSAGING_COMMAND_TOO_LARGE';
  constructor(
    readonly commandId: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`Command ${commandId} is ${bytes} bytes; at most ${maxBytes} are sent.`);
    this.name = 'CommandTooLargeError';
  }
}

/** Everyone waiting for one command id: an Idempotency-Key retry can wait beside the first request. */
type Waiters = Set<(reply: Reply) => void>;

export interface CommandBusOptions {
  readonly kafka: Kafka;
  readonly topics: TopicNames;
  /** Unique per gateway process: replies carry it back, and it names this instance's reply group. */
  readonly instanceId: string;
  /** Put before the reply group's name (P2_KAFKA_TOPIC_PREFIX), as before every topic and group. */
  readonly groupPrefix?: string;
  readonly timeoutMs: number;
  /** Most time for Kafka to take a command (within `timeoutMs`); default `timeoutMs`. */
  readonly sendTimeoutMs?: number;
  /** The reply reader's group session timeout and heartbeat interval (defaults 10000 and 1000). */
  readonly sessionTimeoutMs?: number;
  readonly heartbeatIntervalMs?: number;
  /** How long a command may wait to share a produce request while one is in flight. */
  readonly lingerMs: number;
  /** The replies partition to read; default: the partition `instanceId` hashes to. */
  readonly replyPartition?: number;
  /** Where a restart of the reply reader is told (default: stderr). */
  readonly logger?: KafkaLogger;
}

/** Gateway side of request/reply over Kafka. Commands go to the commands topic keyed by aggregate,
 * concurrent ones coalesced into one produce request. Each gateway reads ONE partition of the
 * replies topic, in a consumer group of its own, and names it in every command (header
 * reply-partition) for the certstore to answer there; it keeps only the replies addressed to it
 * (header reply-to), since gateways whose ids hash alike share a partition. */
export class CommandBus {
  private readonly producer: Producer;
  private readonly commands: CoalescingSender;
  private consumer?: Consumer;
  private supervisor?: ConsumerSupervisor;
  private readonly pending = new Map<string, Waiters>();
  private ready = false;
  private partition = -1;
  /** the next offset of the reply partition this gateway will read (for its lag figure) */
  private position?: number;
  private probe?: OffsetsProbe;

  constructor(private readonly options: CommandBusOptions) {
    // Not kafkajs' idempotent producer: a duplicated command is harmless (processed_commands turns
    // it into the first outcome), and its unbounded retries would outlive the reply deadline.
    this.producer = options.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.commands = new CoalescingSender(this.producer, options.topics.commands, { lingerMs: options.lingerMs });
  }

  /** The replies partition this gateway reads (known once started). */
  get replyPartition(): number {
    return this.partition;
  }

  private get groupId(): string {
    return `${this.options.groupPrefix ?? ''}p2-gateway-replies-${this.options.instanceId}`;
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Resolves once the reply consumer has its partitions and its start offsets, so that no reply to
   * a command sent afterwards can be missed. */
  async start(): Promise<void> {
    await this.producer.connect();
    this.partition = await this.choosePartition();
    const consumer = this.options.kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      sessionTimeout: this.options.sessionTimeoutMs ?? 10000,
      heartbeatInterval: this.options.heartbeatIntervalMs ?? 1000,
      partitionAssigners: [ownPartitionsAssigner([this.partition])],
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.options.topics.replies, fromBeginning: false });
    // Back in the group after a restart of the reader (a crash, a broker restart) or a rebalance:
    // the group commits nothing, so kafkajs would start at the end of the partition again and skip
    // every reply written while the reader was away, its request answered 503 though the command
    // was applied. The reader goes on from the last offset it read instead (kafkajs applies the
    // seek at the next fetch); a reader that has read nothing yet has nothing to go back to.
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (!this.ready || this.position === undefined) return;
      try {
        consumer.seek({ topic: this.options.topics.replies, partition: this.partition, offset: String(this.position) });
      } catch (error) {
        (this.options.logger ?? stderrLogger).warn(`the reply reader could not go back to offset ${this.position}: ${(error as Error).message}`);
      }
    });
    let joined = false;
    const positioned = new Promise<void>((resolve) => {
      const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true;
        offJoin();
      });
      // kafkajs resolves the start offsets at the beginning of a fetch; after the first completed
      // fetch following the join, "latest" is pinned.
      const offFetch = consumer.on(consumer.events.FETCH, () => {
        if (!joined) return;
        offFetch();
        resolve();
      });
    });
    this.supervisor = new ConsumerSupervisor(
      consumer,
      {
        // Nothing to resume from at start: a (re)started gateway waits for no earlier reply, so
        // it starts at the end of its partition, and commits nothing.
        autoCommit: false,
        eachBatch: async ({ batch }) => {
          for (const message of batch.messages) this.deliver(message.headers?.[HEADER.replyTo]?.toString(), message.value);
          const last = batch.messages[batch.messages.length - 1];
          if (last) this.position = Number(last.offset) + 1;
        },
      },
      { name: this.groupId, logger: this.options.logger ?? stderrLogger },
    );
    await this.supervisor.run();
    await positioned;
    this.ready = true;
  }

  /** How far this gateway's reply reader is behind on its partition. Until a reply arrives its
   * position is the end of the partition as of its start (it started there). */
  async replyLag(): Promise<PartitionLag[]> {
    if (this.partition < 0) return [];
    this.probe ??= new OffsetsProbe(this.options.kafka);
    if (this.position === undefined) {
      const start = (await this.probe.offsets(this.options.topics.replies)).find((p) => p.partition === this.partition);
      this.position ??= start?.high ?? 0;
    }
    return this.probe.positionLag(this.options.topics.replies, new Map([[this.partition, this.position]]));
  }

  private deliver(replyTo: string | undefined, value: Buffer | null): void {
    if (replyTo !== this.options.instanceId || !value) return;
    let reply: Reply;
    try {
      reply = JSON.parse(value.toString()) as Reply;
    } catch {
      return;
    }
    // A record that is JSON but no reply (`null`, a number) must not throw here: an error thrown
    // by the reader's handler ends the consumer.
    if (typeof reply !== 'object' || reply === null || typeof reply.commandId !== 'string') return;
    const waiters = this.pending.get(reply.commandId);
    if (!waiters) return;
    this.pending.delete(reply.commandId);
    for (const deliver of waiters) deliver(reply);
  }

  private async choosePartition(): Promise<number> {
    const admin = this.options.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [this.options.topics.replies] });
      const count = topics[0]?.partitions.length ?? 0;
      const chosen = this.options.replyPartition ?? partitionOfKey(this.options.instanceId, count);
      if (chosen >= count) throw new Error(`P2_REPLY_PARTITION ${chosen} does not exist: ${this.options.topics.replies} has ${count} partitions`);
      return chosen;
    } finally {
      await admin.disconnect();
    }
  }

  async stop(): Promise<void> {
    this.ready = false;
    for (const [commandId, waiters] of this.pending) {
      this.pending.delete(commandId);
      const reply: Reply = { commandId, ok: false, error: { code: 'P2CORE_UNAVAILABLE', message: 'The gateway is shutting down.' } };
      for (const deliver of waiters) deliver(reply);
    }
    if (this.supervisor) await this.supervisor.stop();
    else await this.consumer?.disconnect();
    await this.producer.disconnect();
    await this.probe?.close();
  }

  /** Sends a command and waits for its reply. Throws ReplyTimeoutError after the deadline.
   * `traceparent`: the W3C trace context to send along (header), when the caller keeps one. */
  async send(command: Message, key: string, options: { timeoutMs?: number; traceparent?: string } = {}): Promise<Reply> {
    const timeoutMs = options.timeoutMs ?? this.options.timeoutMs;
    const commandId = command.metadata.messageId;
    const record = {
      key,
      value: JSON.stringify(command),
      headers: {
        [HEADER.messageType]: command.type,
        [HEADER.correlationId]: command.metadata.correlationId,
        [HEADER.replyTo]: this.options.instanceId,
        [HEADER.replyPartition]: String(this.partition),
        ...(options.traceparent ? { [HEADER.traceparent]: options.traceparent } : {}),
      },
    };
    // Measured as serialised, before anything waits for a reply: the request body's size says little
    // (a number such as 1e20 becomes 21 digits), and a refusal here leaves nothing to clean up.
    const bytes = recordBytes(record);
    if (bytes > MAX_COMMAND_BYTES) throw new CommandTooLargeError(commandId, bytes, MAX_COMMAND_BYTES);
    let waiters = this.pending.get(commandId);
    if (!waiters) {
      waiters = new Set();
      this.pending.set(commandId, waiters);
    }
    const mine = waiters;
    let deliver!: (reply: Reply) => void;
    const reply = new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        forget();
        reject(new ReplyTimeoutError(commandId, timeoutMs));
      }, timeoutMs);
      deliver = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      mine.add(deliver);
    });
    const forget = () => {
      mine.delete(deliver);
      if (mine.size === 0 && this.pending.get(commandId) === mine) this.pending.delete(commandId);
    };
    try {
      // The deadline covers the send too: a broker that does not answer must not hold the request.
      const sent = this.commands.send(record);
      sent.catch(() => undefined); // a send that fails after the deadline has nobody left to tell
      let sendTimer: NodeJS.Timeout | undefined;
      const sendDeadline = new Promise<never>((_, reject) => {
        const sendTimeoutMs = Math.min(this.options.sendTimeoutMs ?? timeoutMs, timeoutMs);
        sendTimer = setTimeout(() => reject(new Error(`Kafka did not take the command within ${sendTimeoutMs} ms`)), sendTimeoutMs);
      });
      try {
        await Promise.race([sent, reply, sendDeadline]);
      } finally {
        clearTimeout(sendTimer);
      }
    } catch (error) {
      if (error instanceof ReplyTimeoutError) throw error;
      forget();
      deliver({ commandId, ok: false, error: { code: 'P2CORE_UNAVAILABLE', message: 'not sent' } });
      throw new CommandNotSentError(commandId, error);
    }
    return reply;
  }
}

const stderrLogger: KafkaLogger = {
  error: (line) => process.stderr.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
  log: () => undefined,
};

export function newMessageId(): string {
  return randomUUID();
}

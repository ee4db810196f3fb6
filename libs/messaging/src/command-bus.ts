import { randomUUID } from 'node:crypto';
import { Partitioners, type Consumer, type Kafka, type Producer } from 'kafkajs';
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

/** Everyone waiting for one command id: an Idempotency-Key retry can wait beside the first request. */
type Waiters = Set<(reply: Reply) => void>;

export interface CommandBusOptions {
  readonly kafka: Kafka;
  readonly topics: TopicNames;
  /** Unique per gateway process: replies carry it back, and it names this instance's reply group. */
  readonly instanceId: string;
  readonly timeoutMs: number;
}

/** Gateway side of request/reply over Kafka. Commands go to the commands topic keyed by aggregate;
 * each gateway instance reads the replies topic in a consumer group of its own and keeps only the
 * replies addressed to it (header reply-to), so any number of gateways can run side by side. */
export class CommandBus {
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private readonly pending = new Map<string, Waiters>();
  private ready = false;

  constructor(private readonly options: CommandBusOptions) {
    // Not kafkajs' idempotent producer: a duplicated command is harmless (processed_commands turns
    // it into the first outcome), and its unbounded retries would outlive the reply deadline.
    this.producer = options.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.consumer = options.kafka.consumer({
      groupId: `p2-gateway-replies-${options.instanceId}`,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: 250,
      sessionTimeout: 10000,
      heartbeatInterval: 1000,
    });
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Resolves once the reply consumer has its partitions and its start offsets, so that no reply to
   * a command sent afterwards can be missed. */
  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topics.replies, fromBeginning: false });
    let joined = false;
    const positioned = new Promise<void>((resolve) => {
      const offJoin = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        joined = true;
        offJoin();
      });
      // kafkajs resolves the start offsets at the beginning of a fetch; after the first completed
      // fetch following the join, "latest" is pinned.
      const offFetch = this.consumer.on(this.consumer.events.FETCH, () => {
        if (!joined) return;
        offFetch();
        resolve();
      });
    });
    await this.consumer.run({
      autoCommit: true,
      eachMessage: async ({ message }) => {
        const replyTo = message.headers?.[HEADER.replyTo]?.toString();
        if (replyTo !== this.options.instanceId || !message.value) return;
        let reply: Reply;
        try {
          reply = JSON.parse(message.value.toString()) as Reply;
        } catch {
          return;
        }
        const waiters = this.pending.get(reply.commandId);
        if (!waiters) return;
        this.pending.delete(reply.commandId);
        for (const deliver of waiters) deliver(reply);
      },
    });
    await positioned;
    this.ready = true;
  }

  async stop(): Promise<void> {
    this.ready = false;
    for (const [commandId, waiters] of this.pending) {
      this.pending.delete(commandId);
      const reply: Reply = { commandId, ok: false, error: { code: 'P2CORE_UNAVAILABLE', message: 'The gateway is shutting down.' } };
      for (const deliver of waiters) deliver(reply);
    }
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }

  /** Sends a command and waits for its reply. Throws ReplyTimeoutError after the deadline. */
  async send(command: Message, key: string, timeoutMs = this.options.timeoutMs): Promise<Reply> {
    const commandId = command.metadata.messageId;
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
      const sent = this.producer.send({
        topic: this.options.topics.commands,
        messages: [
          {
            key,
            value: JSON.stringify(command),
            headers: {
              [HEADER.messageType]: command.type,
              [HEADER.correlationId]: command.metadata.correlationId,
              [HEADER.replyTo]: this.options.instanceId,
            },
          },
        ],
      });
      sent.catch(() => undefined); // a send that fails after the deadline has nobody left to tell
      await Promise.race([sent, reply]);
    } catch (error) {
      if (error instanceof ReplyTimeoutError) throw error;
      forget();
      deliver({ commandId, ok: false, error: { code: 'P2CORE_UNAVAILABLE', message: 'not sent' } });
      throw new CommandNotSentError(commandId, error);
    }
    return reply;
  }
}

export function newMessageId(): string {
  return randomUUID();
}

import { Partitioners, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Producer } from 'kafkajs';
import { HEADER, isMessage, type Message, type Reply, type TopicNames } from '@p2/contracts';
import type { KafkaLogger } from './kafka.factory';

/** Handles one command and returns its reply. Business refusals are replies (`ok: false`);
 * a thrown error means an infrastructure failure and is retried, then dead-lettered. */
export type CommandHandlerFn = (command: Message) => Promise<Reply>;

export interface CommandConsumerOptions {
  readonly kafka: Kafka;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly handle: CommandHandlerFn;
  readonly logger: KafkaLogger;
  /** Attempts per command before it goes to the dead-letter topic. Default 5. */
  readonly maxAttempts?: number;
  /** First retry delay in ms, doubled per attempt. Default 100. */
  readonly retryDelayMs?: number;
}

interface PendingReply {
  readonly replyTo: string;
  readonly reply: Reply;
}

/** Certstore side: a consumer group over the commands topic. Batches are handled in offset order
 * (all commands of an actor share a partition, so each actor's commands stay ordered); replies of
 * a batch go out in one produce call before the offsets are committed. Nothing escapes a batch
 * that would stall the partition: poison messages and exhausted retries go to the DLQ. */
export class CommandConsumer {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: CommandConsumerOptions) {
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: 15000,
      heartbeatInterval: 1000,
      maxWaitTimeInMs: 250,
    });
    // Replies and dead letters tolerate duplicates (gateways match replies by command id).
    this.producer = options.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 100;
  }

  async start(): Promise<void> {
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topics.commands, fromBeginning: true });
    const joined = new Promise<void>((resolve) => {
      const off = this.consumer.on(this.consumer.events.GROUP_JOIN, () => {
        off();
        resolve();
      });
    });
    await this.consumer.run({
      autoCommit: true,
      autoCommitThreshold: 1,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.handleBatch(payload),
    });
    await joined;
  }

  async stop(): Promise<void> {
    await this.consumer.disconnect();
    await this.producer.disconnect();
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale } = payload;
    const replies: PendingReply[] = [];
    for (const message of batch.messages) {
      if (!isRunning() || isStale()) break;
      const pending = await this.handleMessage(batch.topic, batch.partition, message, heartbeat);
      if (pending) replies.push(pending);
      resolveOffset(message.offset);
      await heartbeat();
    }
    await this.sendReplies(replies);
    await commitOffsetsIfNecessary();
  }

  private async handleMessage(
    topic: string,
    partition: number,
    message: KafkaMessage,
    heartbeat: () => Promise<void>,
  ): Promise<PendingReply | undefined> {
    const replyTo = message.headers?.[HEADER.replyTo]?.toString();
    let command: unknown;
    try {
      command = message.value ? JSON.parse(message.value.toString()) : undefined;
    } catch {
      command = undefined;
    }
    if (!isMessage(command)) {
      await this.deadLetter(message, 'malformed envelope', 0, { topic, partition });
      return undefined;
    }
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      try {
        const reply = await this.options.handle(command);
        return replyTo ? { replyTo, reply } : undefined;
      } catch (error) {
        lastError = error;
        this.options.logger.warn(
          `command ${command.metadata.messageId} (${command.type}) failed on attempt ${attempt}/${this.maxAttempts}: ${(error as Error)?.message}`,
        );
        if (attempt < this.maxAttempts) {
          await heartbeat();
          await delay(this.retryDelayMs * 2 ** (attempt - 1));
        }
      }
    }
    await this.deadLetter(message, (lastError as Error)?.message ?? String(lastError), this.maxAttempts, { topic, partition });
    const reply: Reply = {
      commandId: command.metadata.messageId,
      ok: false,
      error: {
        code: 'P2CORE_UNAVAILABLE',
        message: `The command could not be processed and was set aside for the operators (command id ${command.metadata.messageId}).`,
      },
    };
    return replyTo ? { replyTo, reply } : undefined;
  }

  private async sendReplies(replies: readonly PendingReply[]): Promise<void> {
    if (replies.length === 0) return;
    await this.producer.send({
      topic: this.options.topics.replies,
      messages: replies.map(({ replyTo, reply }) => ({
        key: replyTo,
        value: JSON.stringify(reply),
        headers: { [HEADER.replyTo]: replyTo, [HEADER.correlationId]: reply.commandId, [HEADER.messageType]: 'Reply' },
      })),
    });
  }

  private async deadLetter(message: KafkaMessage, reason: string, attempts: number, origin: { topic: string; partition: number }): Promise<void> {
    this.options.logger.error(`dead-lettering offset ${message.offset} of ${origin.topic}/${origin.partition}: ${reason}`);
    await this.producer.send({
      topic: this.options.topics.deadLetters,
      messages: [
        {
          key: message.key,
          value: message.value,
          headers: {
            ...message.headers,
            'dlq-reason': reason.slice(0, 500),
            'dlq-attempts': String(attempts),
            'dlq-origin': `${origin.topic}/${origin.partition}@${message.offset}`,
          },
        },
      ],
    });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

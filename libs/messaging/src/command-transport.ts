import { Catch, type RpcExceptionFilter } from '@nestjs/common';
import { BaseRpcContext, Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { Partitioners, type Admin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Message as KafkaRecord, type Producer } from 'kafkajs';
import { lastValueFrom, throwError, type Observable } from 'rxjs';
import { COMMAND_TYPES, ERROR_CODE, HEADER, PAYLOAD_OMITTED, decodeCommand, isCommandEnvelope, withPayloadOmitted, type Message, type Reply, type TopicNames } from '@p2/contracts';
import { CoalescingSender } from './coalescing-sender';
import { chunksOf, sendHalving, valueBytes } from './record-chunks';
import { ConsumerSupervisor } from './consumer-supervisor';
import { OffsetCommitter } from './offset-committer';
import type { KafkaLogger } from './kafka.factory';

/** Routes one command to its `@MessagePattern` handler inside a unit of work (`scope`). Throws what
 * the handler throws, or InvalidCommandError for a command outside its contract. */
export type CommandDispatch<S> = (command: Message, scope: S) => Promise<unknown>;

/**
 * The unit of work a batch of commands runs in (the certstore: one PostgreSQL transaction). It
 * handles `commands` in order and returns one reply per command, in the same order; business
 * refusals are replies. It throws only when the unit failed as a whole (an infrastructure error):
 * then nothing of it took effect and the transport retries it.
 */
export interface CommandBatchRunner<S> {
  run(commands: readonly Message[], dispatch: CommandDispatch<S>): Promise<Reply[]>;
  /** Whether an error of `run` says its store is unavailable (down, restarting) or busy (a statement
   * cancelled while it waited for a lock): no fault of the commands, so the unit is held and retried
   * until it goes through, never dead-lettered. */
  isUnavailable?(error: unknown): boolean;
}

/** The consumer lost its partitions (stopping, or a rebalance) while a unit was held: the batch is
 * left unanswered and uncommitted, for the partitions' next owner. */
class BatchAbandonedError extends Error {}

/** What a `@MessagePattern` handler receives as its context: the command envelope and the scope
 * its unit of work gave it. */
export class CommandRpcContext<S = unknown> extends BaseRpcContext<[Message, S]> {
  get command(): Message {
    return this.args[0];
  }

  get scope(): S {
    return this.args[1];
  }
}

/** Nest's default RPC exception filter turns every error into `{status, message}`; the runner
 * needs the original (a DomainError is a refusal, a ConcurrencyError a retry), so controllers of
 * this transport pass errors through unchanged. */
@Catch()
export class PassThroughRpcErrors implements RpcExceptionFilter<unknown> {
  catch(exception: unknown): Observable<never> {
    return throwError(() => exception);
  }
}

export interface CommandTransportOptions<S> {
  readonly kafka: Kafka;
  readonly topics: TopicNames;
  readonly groupId: string;
  readonly runner: CommandBatchRunner<S>;
  readonly logger: KafkaLogger;
  /** Command partitions handled at once, each batch in its own unit of work. */
  readonly partitionsConsumedConcurrently: number;
  /** Attempts of a failing unit of work (and, once isolated, of each of its commands) before a
   * command goes to the dead-letter topic. Default 5. */
  readonly maxAttempts?: number;
  /** First retry delay in ms, doubled per attempt. Default 100. */
  readonly retryDelayMs?: number;
  /** Longest delay between attempts while the runner's store is unavailable. Default 2000. */
  readonly maxRetryDelayMs?: number;
  /** The consumer group's session timeout: how soon a crashed member's partitions move. Default 6000. */
  readonly sessionTimeoutMs?: number;
  /** How often the consumer heartbeats (at most a third of the session timeout). Default 1000. */
  readonly heartbeatIntervalMs?: number;
  /** Most commands in one unit of work. Default 64: each command runs in a savepoint, and
   * PostgreSQL keeps up to 64 subtransactions per transaction in shared memory; beyond that every
   * other session's visibility checks fall back to the pg_subtrans SLRU. */
  readonly maxCommandsPerUnit?: number;
  /** What the app wants to know or wrap (metrics, correlation context); every hook is optional. */
  readonly hooks?: CommandTransportHooks;
}

/** The final outcome of a command in the transport: answered (accepted or refused), or set aside. */
export type CommandOutcome = 'accepted' | 'refused' | 'dead_lettered';

/** Hooks of the certstore's transport into the app (observability). They must not throw. */
export interface CommandTransportHooks {
  /** Runs one command's handling (inside its unit of work), e.g. in the command's log context.
   * `traceparent` is the W3C trace context the command arrived with. */
  around?<T>(command: Message, traceparent: string | undefined, work: () => Promise<T>): Promise<T>;
  /** The traceparent header for the reply to `command` (default: the command's own). */
  replyTraceparent?(command: Message, traceparent: string | undefined): string | undefined;
  /** A unit of work of `size` commands completed (group commit batch size). */
  unitDone?(size: number): void;
  /** A unit of work failed and is run again (`commandTypes`: its commands). */
  unitRetried?(commandTypes: readonly string[]): void;
  /** A command's outcome left in a reply: `seconds` from taking its batch to producing the reply. */
  commandDone?(command: Message, outcome: CommandOutcome, seconds: number): void;
  /** A record that was no command envelope at all went to the dead-letter topic (it has no type,
   * and no command id to answer to, so commandDone never hears of it). */
  unreadableSetAside?(): void;
  /** A reply or dead letter was larger than its topic takes on its own, and a stand-in without its
   * payload went out in its place (docs/architecture.md#oversized-replies). */
  payloadOmitted?(topic: 'replies' | 'dead_letters'): void;
  /** The consumer joined its group and got `partitions` of the commands topic. */
  assigned?(partitions: readonly number[]): void;
}

/** A record of the commands topic, parsed. `command` is undefined for a record that is not an
 * envelope at all (no id to answer to): it can only be set aside. */
interface Received {
  readonly record: KafkaMessage;
  readonly command?: Message;
  readonly replyTo?: string;
  readonly replyPartition?: number;
  readonly traceparent?: string;
}

interface Outgoing {
  readonly replies: KafkaRecord[];
  readonly deadLetters: KafkaRecord[];
  /** what to tell the hooks once the replies are out */
  readonly done: { readonly command: Message; readonly outcome: CommandOutcome }[];
  /** records dead-lettered as no envelope at all */
  unreadable: number;
}

/**
 * The certstore's Nest microservice transport: a consumer group over the commands topic, read with
 * kafkajs `eachBatch`, several partitions at once. Each partition's batch is handled in offset order
 * (all commands of an actor share a partition, so they stay ordered) as ONE unit of work of the
 * runner (group commit); then its replies (and dead letters) go out in one produce call, and only
 * then are the offsets resolved and committed. Nothing escapes a batch that would stall its
 * partition: a unit that keeps failing is retried with back-off, then its commands run one per
 * unit, and a command that keeps failing alone is dead-lettered with a reply; a reply or dead
 * letter its topic refuses as too large on its own goes out as a stand-in without its payload
 * (docs/architecture.md#oversized-replies).
 */
export class KafkaCommandTransport<S> extends Server implements CustomTransportStrategy {
  private readonly consumer: Consumer;
  private readonly producer: Producer;
  private readonly replies: CoalescingSender;
  private readonly admin: Admin;
  private readonly maxAttempts: number;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly maxPerUnit: number;
  private replyPartitions = 0;
  private replyPartitionsCheckedAt = 0;
  private assignment: readonly number[] | undefined;
  private supervisor?: ConsumerSupervisor;
  private readonly offsets: OffsetCommitter;

  constructor(private readonly options: CommandTransportOptions<S>) {
    super();
    this.consumer = options.kafka.consumer({
      groupId: options.groupId,
      allowAutoTopicCreation: false,
      sessionTimeout: options.sessionTimeoutMs ?? 6000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 1000,
      maxWaitTimeInMs: 250,
    });
    // Replies and dead letters tolerate duplicates (gateways match replies by command id).
    this.producer = options.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    // The partitions handled at once finish their units at about the same time: their replies
    // share one produce request (the broker serves one connection's requests one after another,
    // so separate requests would only queue there), and the fetch that waits for every batch of
    // the previous one goes out sooner.
    this.replies = new CoalescingSender(this.producer, options.topics.replies, {
      lingerMs: REPLY_LINGER_MS,
      standIn: { record: (refused) => this.replyStandIn(refused), sent: (refused) => this.replyReplaced(refused) },
    });
    this.admin = options.kafka.admin();
    this.maxAttempts = options.maxAttempts ?? 5;
    this.retryDelayMs = options.retryDelayMs ?? 100;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 2000;
    this.maxPerUnit = options.maxCommandsPerUnit ?? 64;
    this.offsets = new OffsetCommitter(this.consumer, options.topics.commands, OFFSET_COMMIT_INTERVAL_MS, options.logger);
  }

  /** Nest calls this from `startAllMicroservices()`; it resolves once the consumer joined its group. */
  listen(callback: (error?: unknown) => void): void {
    this.start().then(
      () => callback(),
      (error: unknown) => callback(error),
    );
  }

  async close(): Promise<void> {
    // what is done is committed before the partitions move, so their next owner redelivers less
    await this.offsets.flush().catch(() => undefined);
    if (this.supervisor) await this.supervisor.stop();
    else await this.consumer.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
  }

  on(): never {
    throw new Error('KafkaCommandTransport has no events to listen to');
  }

  unwrap<T>(): T {
    return this.consumer as T;
  }

  /** The commands partitions this certstore holds since it last joined its group; undefined
   * while it is not a member. */
  get assignedPartitions(): readonly number[] | undefined {
    return this.assignment;
  }

  private async start(): Promise<void> {
    const missing = COMMAND_TYPES.filter((type) => !this.messageHandlers.has(type));
    if (missing.length > 0) throw new Error(`no @MessagePattern handler for ${missing.join(', ')}`);
    await this.producer.connect();
    await this.admin.connect();
    await this.refreshReplyPartitions();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic: this.options.topics.commands, fromBeginning: true });
    const joined = new Promise<void>((resolve) => {
      this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => {
        this.assignment = [...(payload.memberAssignment[this.options.topics.commands] ?? [])].sort((a, b) => a - b);
        this.options.hooks?.assigned?.(this.assignment);
        resolve();
      });
    });
    // offsets resolved before a rejoin, a stop or a crash are not committed: kafkajs restarts from
    // the committed ones, and so do the partitions' next owners
    this.consumer.on(this.consumer.events.GROUP_JOIN, () => this.offsets.forget());
    for (const left of [this.consumer.events.STOP, this.consumer.events.CRASH]) {
      this.consumer.on(left, () => {
        this.assignment = undefined;
        this.offsets.forget();
      });
    }
    // kafkajs gives up on a consumer after some errors of a broker restart; a certstore without its
    // command consumer takes no command again (ConsumerSupervisor says which errors)
    this.supervisor = new ConsumerSupervisor(
      this.consumer,
      {
        // Offsets are resolved once a batch's replies are out, and committed by OffsetCommitter,
        // off the batch's path: kafkajs' auto-commit commits after every batch and fetches again
        // only once that commit is answered. What a crash leaves uncommitted is redelivered and
        // answered from processed_commands.
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently,
        eachBatch: (payload) => this.handleBatch(payload),
      },
      { name: this.options.groupId, logger: this.options.logger },
    );
    await this.supervisor.run();
    await joined;
  }

  private async handleBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const received = batch.messages.map((record) => this.parse(record));
    const running = () => isRunning() && !isStale();
    for (let from = 0; from < received.length; from += this.maxPerUnit) {
      if (!running()) return;
      const chunk = received.slice(from, from + this.maxPerUnit);
      const taken = process.hrtime.bigint();
      let outgoing: Outgoing;
      try {
        outgoing = await this.process(chunk, `${batch.topic}/${batch.partition}`, heartbeat, running);
      } catch (error) {
        if (error instanceof BatchAbandonedError) return;
        throw error;
      }
      await this.publish(outgoing);
      this.report(outgoing, Number(process.hrtime.bigint() - taken) / 1e9);
      const last = chunk[chunk.length - 1]!.record.offset;
      resolveOffset(last);
      this.offsets.done(batch.partition, last);
      // kafkajs sends a heartbeat only when one is due; nothing here waits for it
      heartbeat().catch((error: unknown) => this.options.logger.debug?.(`heartbeat: ${(error as Error).message}`));
    }
  }

  private parse(record: KafkaMessage): Received {
    let value: unknown;
    try {
      value = record.value ? JSON.parse(record.value.toString()) : undefined;
    } catch {
      value = undefined;
    }
    const replyTo = record.headers?.[HEADER.replyTo]?.toString();
    const partition = Number(record.headers?.[HEADER.replyPartition]?.toString() ?? Number.NaN);
    return {
      record,
      command: isCommandEnvelope(value) ? value : undefined,
      replyTo,
      replyPartition: Number.isInteger(partition) && partition >= 0 ? partition : undefined,
      traceparent: record.headers?.[HEADER.traceparent]?.toString(),
    };
  }

  private report(outgoing: Outgoing, seconds: number): void {
    const hooks = this.options.hooks;
    if (!hooks) return;
    if (hooks.commandDone) for (const { command, outcome } of outgoing.done) hooks.commandDone(command, outcome, seconds);
    if (hooks.unreadableSetAside) for (let i = 0; i < outgoing.unreadable; i++) hooks.unreadableSetAside();
  }

  /** Runs the chunk's commands as one unit of work; on repeated failure, one command per unit. */
  private async process(chunk: readonly Received[], origin: string, heartbeat: () => Promise<void>, running: () => boolean): Promise<Outgoing> {
    const outgoing: Outgoing = { replies: [], deadLetters: [], done: [], unreadable: 0 };
    const commands = chunk.filter((r) => r.command !== undefined);
    for (const r of chunk) {
      if (r.command) continue;
      outgoing.deadLetters.push(this.deadLetter(r.record, 'malformed envelope', 0, origin));
      outgoing.unreadable++;
    }
    if (commands.length === 0) return outgoing;
    let failure: unknown;
    try {
      const replies = await this.attempt(commands, heartbeat, running);
      commands.forEach((r, i) => this.addReply(outgoing, r, replies[i]!));
      this.options.hooks?.unitDone?.(commands.length);
      return outgoing;
    } catch (error) {
      if (error instanceof BatchAbandonedError) throw error;
      failure = error;
    }
    if (commands.length === 1) {
      this.setAside(outgoing, commands[0]!, failure, origin);
      return outgoing;
    }
    this.options.logger.warn(`${origin}: a unit of ${commands.length} commands keeps failing (${(failure as Error)?.message}); running them one by one`);
    for (const r of commands) {
      try {
        const [reply] = await this.attempt([r], heartbeat, running);
        this.addReply(outgoing, r, reply!);
        this.options.hooks?.unitDone?.(1);
      } catch (error) {
        if (error instanceof BatchAbandonedError) throw error;
        this.setAside(outgoing, r, error, origin);
      }
    }
    return outgoing;
  }

  /** A command that keeps failing alone: to the dead-letter topic, and a reply saying so. */
  private setAside(outgoing: Outgoing, received: Received, error: unknown, origin: string): void {
    const commandId = received.command!.metadata.messageId;
    outgoing.deadLetters.push(this.deadLetter(received.record, (error as Error)?.message ?? String(error), this.maxAttempts, origin));
    this.addReply(
      outgoing,
      received,
      {
        commandId,
        ok: false,
        error: { code: ERROR_CODE.unavailable, message: `The command could not be processed and was set aside for the operators (command id ${commandId}).` },
      },
      'dead_lettered',
    );
  }

  /** The runner's unit of work, retried with back-off while it throws; while the runner's store
   * is unavailable, retried for as long as this consumer keeps the partition, without counting. */
  private async attempt(commands: readonly Received[], heartbeat: () => Promise<void>, running: () => boolean): Promise<Reply[]> {
    const messages = commands.map((r) => r.command!);
    for (const r of commands) this.traceparents.set(r.command!, r.traceparent);
    let outage = 0;
    for (let attempt = 1; ; ) {
      try {
        return await this.options.runner.run(messages, this.dispatch);
      } catch (error) {
        const what = messages.length === 1 ? `command ${messages[0]!.metadata.messageId} (${messages[0]!.type})` : `a unit of ${messages.length} commands`;
        // The partitions' next owner runs these commands again: one that failed here is not
        // dead-lettered from a partition this consumer no longer holds, while the owner applies it.
        if (!running()) throw new BatchAbandonedError();
        if (this.options.runner.isUnavailable?.(error)) {
          outage++;
          if (outage === 1 || outage % 30 === 0) this.options.logger.warn(`${what} held: the store is unavailable or busy (${(error as Error)?.message}), attempt ${outage}`);
          this.options.hooks?.unitRetried?.(messages.map((m) => m.type));
          await this.pause(Math.min(this.retryDelayMs * 2 ** Math.min(outage - 1, 20), this.maxRetryDelayMs), heartbeat);
          continue;
        }
        this.options.logger.warn(`${what} failed on attempt ${attempt}/${this.maxAttempts}: ${(error as Error)?.message}`);
        if (attempt >= this.maxAttempts) throw error;
        this.options.hooks?.unitRetried?.(messages.map((m) => m.type));
        await this.pause(this.retryDelayMs * 2 ** (attempt - 1), heartbeat);
        attempt++;
      }
    }
  }

  /** Waits `ms`, heartbeating on the way: a unit held longer than the session timeout keeps its partition. */
  private async pause(ms: number, heartbeat: () => Promise<void>): Promise<void> {
    for (let left = ms; left > 0; left -= 500) {
      heartbeat().catch(() => undefined);
      await delay(Math.min(500, left));
    }
  }

  private readonly dispatch: CommandDispatch<S> = async (message, scope) => {
    const work = async () => {
      const command = decodeCommand(message);
      const handler = this.messageHandlers.get(command.type)!;
      const result = await handler(command.data, new CommandRpcContext<S>([command, scope]));
      return lastValueFrom(this.transformToObservable(result));
    };
    const around = this.options.hooks?.around;
    return around ? around(message, this.traceparents.get(message), work) : work();
  };

  /** The trace context each command of the running units arrived with (for `around`). */
  private readonly traceparents = new WeakMap<Message, string | undefined>();

  private addReply(outgoing: Outgoing, received: Received, reply: Reply, outcome: CommandOutcome = reply.ok ? 'accepted' : 'refused'): void {
    const command = received.command!;
    outgoing.done.push({ command, outcome });
    const { replyTo } = received;
    if (!replyTo) return;
    const traceparent = this.options.hooks?.replyTraceparent ? this.options.hooks.replyTraceparent(command, received.traceparent) : received.traceparent;
    const record: KafkaRecord = {
      key: replyTo,
      value: JSON.stringify(reply),
      partition: this.replyPartition(received.replyPartition),
      headers: {
        [HEADER.replyTo]: replyTo,
        [HEADER.correlationId]: command.metadata.correlationId,
        [HEADER.messageType]: 'Reply',
        ...(traceparent ? { [HEADER.traceparent]: traceparent } : {}),
      },
    };
    this.commandOfReply.set(record, command);
    outgoing.replies.push(record);
  }

  /** The command each reply record of the batches in flight answers (for a stand-in). */
  private readonly commandOfReply = new WeakMap<KafkaRecord, Message>();

  /**
   * What goes out in place of a reply the replies topic refuses on its own (a topic or broker
   * limit under the reply's size): the same key, partition and headers, and a refusal with the same
   * command id, so the waiting gateway answers at once, with a typed error, instead of the whole
   * partition being handled again and again (the broker gives the reply the same answer on every
   * pass, and a redelivered command is answered with the same reply from processed_commands).
   */
  private replyStandIn(refused: KafkaRecord): KafkaRecord {
    const command = this.commandOfReply.get(refused)!;
    const commandId = command.metadata.messageId;
    const reply: Reply = {
      commandId,
      ok: false,
      error: {
        code: ERROR_CODE.replyTooLarge,
        message:
          `The command was handled, but its answer (${valueBytes(refused)} bytes) is larger than the certificate service can deliver (command id ${commandId}). ` +
          'A retry with the same Idempotency-Key gets this answer again until an operator raises the replies topic limit.',
      },
    };
    return { ...refused, value: JSON.stringify(reply), headers: { ...refused.headers, [HEADER.payloadOmitted]: PAYLOAD_OMITTED } };
  }

  /** Never the reply itself in the log: it may carry key material or tokens. */
  private replyReplaced(refused: KafkaRecord): void {
    const command = this.commandOfReply.get(refused)!;
    this.options.logger.error(
      `the reply to command ${command.metadata.messageId} (${command.type}, ${valueBytes(refused)} bytes) is larger than ${this.options.topics.replies} takes: answered with ${ERROR_CODE.replyTooLarge} in its place`,
    );
    this.options.hooks?.payloadOmitted?.('replies');
  }

  /** The partition a gateway named, if the topic has it; otherwise the key decides. A partition
   * beyond what this process knows makes it look again (partitions were added), at most once a
   * second. */
  private replyPartition(named: number | undefined): number | undefined {
    if (named === undefined) return undefined;
    if (named >= this.replyPartitions && Date.now() - this.replyPartitionsCheckedAt > 1000) {
      this.refreshReplyPartitions().catch((error: unknown) => this.options.logger.warn(`reading the replies topic's partitions failed: ${(error as Error).message}`));
    }
    return named < this.replyPartitions ? named : undefined;
  }

  private async refreshReplyPartitions(): Promise<void> {
    this.replyPartitionsCheckedAt = Date.now();
    const { topics } = await this.admin.fetchTopicMetadata({ topics: [this.options.topics.replies] });
    this.replyPartitions = topics[0]?.partitions.length ?? 0;
  }

  private deadLetter(record: KafkaMessage, reason: string, attempts: number, origin: string): KafkaRecord {
    this.options.logger.error(`dead-lettering offset ${record.offset} of ${origin}: ${reason}`);
    return {
      key: record.key,
      value: record.value,
      headers: { ...record.headers, 'dlq-reason': reason.slice(0, 500), 'dlq-attempts': String(attempts), 'dlq-origin': `${origin}@${record.offset}` },
    };
  }

  /** Replies of a batch (sharing a produce request with the replies of the other partitions
   * handled at the same time) and its dead letters (rare: a request of their own). */
  private async publish({ replies, deadLetters }: Outgoing): Promise<void> {
    await Promise.all([this.replies.sendAll(replies), this.sendDeadLetters(deadLetters)]);
  }

  /** Dead letters keep the commands they set aside, up to the gateway's body limit each: several
   * of them would make a request the broker refuses, and the batch would be handled again and again. */
  private async sendDeadLetters(deadLetters: readonly KafkaRecord[]): Promise<void> {
    const topic = this.options.topics.deadLetters;
    const send = async (records: readonly KafkaRecord[]) => {
      await this.producer.send({ topic, messages: [...records] });
    };
    for (const chunk of chunksOf(deadLetters, (record) => record, deadLetters.length)) {
      // A dead letter refused on its own (a topic limit under the command's size) goes out without
      // its command, which is still at its dlq-origin on the commands topic, until that topic's
      // retention: stuck on it, the partition would never move again.
      await sendHalving(chunk, send, async (refused) => {
        const bytes = valueBytes(refused);
        await send([{ ...refused, value: JSON.stringify(omittedCommand(refused, bytes)), headers: { ...refused.headers, [HEADER.payloadOmitted]: PAYLOAD_OMITTED } }]);
        this.options.logger.error(`a dead letter (${refused.headers?.['dlq-origin']?.toString()}, ${bytes} bytes) is larger than ${topic} takes: set aside without its command`);
        this.options.hooks?.payloadOmitted?.('dead_letters');
      });
    }
  }
}

/** How often, at most, the offsets of the commands done are committed. */
const OFFSET_COMMIT_INTERVAL_MS = 200;

/** How long replies may wait to share a produce request while one is in flight. */
const REPLY_LINGER_MS = 2;

/** The value of a dead letter sent without its command: the envelope with its data replaced by the
 * marker (so `p2ctl dlq list` still names its type and command id), or the marker alone. */
function omittedCommand(record: KafkaRecord, bytes: number): unknown {
  const marker = { payloadOmitted: { reason: PAYLOAD_OMITTED, bytes } };
  try {
    const value: unknown = JSON.parse(record.value?.toString() ?? '');
    return isCommandEnvelope(value) ? withPayloadOmitted(value, bytes) : marker;
  } catch {
    return marker;
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

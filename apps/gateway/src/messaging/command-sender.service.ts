import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { requireTokenKey, type AppConfig } from '@p2/config';
import { ERROR_CODE, RESULT_TYPE, commandKey, topicNames, type Command, type CommandResult, type ResultOf } from '@p2/contracts';
import { CommandBus, CommandNotSentError, CommandTooLargeError, createKafka, KafkaHealthProbe, ReplyTimeoutError, type PartitionLag } from '@p2/messaging';
import { currentCorrelation } from '@p2/observability';
import { APP_CONFIG } from '@p2/platform';
import type { AuthenticatedSession } from '../auth/authenticated-session';
import { ApiError, replyErrorToApiError } from '../http/api-error';
import { CommandIds } from './command-ids';

/** Sends commands to the certstores and turns replies into typed results or API errors. */
@Injectable()
export class CommandSender implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CommandSender.name);
  private readonly bus: CommandBus;
  readonly health: KafkaHealthProbe;
  private readonly appliedListeners: ((result: CommandResult) => void)[] = [];
  /** Nest's Logger builds a line and passes it through its wrappers before pino drops it by
   * level: two such calls per command were ~1.7 % of the gateway's busy time in a write cell. */
  private readonly debugLines: boolean;
  private readonly ids: CommandIds;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.debugLines = config.logLevel === 'debug';
    this.ids = new CommandIds(requireTokenKey(config));
    const kafkaLogger = new Logger('Kafka');
    const kafka = createKafka({ brokers: config.kafkaBrokers, clientId: `p2-gateway-${config.instanceId}`, logger: kafkaLogger });
    this.bus = new CommandBus({
      kafka,
      topics: topicNames(config.kafkaTopicPrefix),
      instanceId: config.instanceId,
      groupPrefix: config.kafkaTopicPrefix,
      timeoutMs: config.replyTimeoutMs,
      sendTimeoutMs: config.commandSendTimeoutMs,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      heartbeatIntervalMs: config.kafkaHeartbeatIntervalMs,
      lingerMs: config.commandLingerMs,
      replyPartition: config.replyPartition,
      logger: kafkaLogger,
    });
    this.health = new KafkaHealthProbe(kafka);
  }

  /** The replies partition this gateway reads. */
  get replyPartition(): number {
    return this.bus.replyPartition;
  }

  /** Whether the reply reader has its partition (readiness). */
  get isReady(): boolean {
    return this.bus.isReady;
  }

  /** How far the reply reader is behind (telemetry). */
  replyLag(): Promise<PartitionLag[]> {
    return this.bus.replyLag();
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bus.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus.stop();
    await this.health.close();
  }

  /** Calls `listener` with the result of every command this gateway sent that was applied, before
   * the request that sent it is answered (the read caches forget what it changed). */
  onApplied(listener: (result: CommandResult) => void): void {
    this.appliedListeners.push(listener);
  }

  /** A command id: random, or keyed from the client's Idempotency-Key so that a retry of the same
   * request by the same actor is the same command (and gets the first outcome); see CommandIds. */
  commandId(route: string, actor: string, idempotencyKey: string | undefined): string {
    if (idempotencyKey && idempotencyKey.length > 200) throw new ApiError(400, ERROR_CODE.malformedRequest, 'The Idempotency-Key header is too long (200 characters at most).');
    return this.ids.idFor(route, actor, idempotencyKey);
  }

  /** The command id of a write made under the calling session: the key names a retry of one
   * token's request. With the actor alone, another session sending the same key got the first one's
   * outcome; with the session ID, so did a later session that reuses the ID of a deleted one (a
   * session ID is free again once its session is deleted). The token hash is mixed into the HMAC
   * only, so the published id does not show it. */
  sessionCommandId(route: string, session: Pick<AuthenticatedSession, 'federationId' | 'sessionId' | 'tokenHash'>, idempotencyKey: string | undefined): string {
    return this.commandId(`${route}/${session.sessionId}/${session.tokenHash}`, session.federationId, idempotencyKey);
  }

  /** Sends `command` keyed by its aggregate and answers with its result; a refusal becomes the
   * matching API error, a missed deadline a 503 naming the command id (the command stays on Kafka
   * and is applied when a certstore reaches it; a retry with the same Idempotency-Key gets that
   * outcome); a command over MAX_COMMAND_BYTES is not sent and answered 413. */
  async send<C extends Command>(command: C): Promise<ResultOf<C>> {
    const commandId = command.metadata.messageId;
    // The request's correlation id travels in the envelope (and its trace in the headers), so the
    // certstore logs its handling under the id the gateway logged the request with.
    const context = currentCorrelation();
    const sent = context ? { ...command, metadata: { ...command.metadata, correlationId: context.correlationId } } : command;
    let reply;
    try {
      if (this.debugLines) this.logger.debug(`sending ${command.type} ${commandId}`);
      reply = await this.bus.send(sent, commandKey(command), { traceparent: context?.traceparent });
      if (this.debugLines) this.logger.debug(`reply to ${command.type} ${commandId}: ${reply.ok ? 'ok' : reply.error.code}`);
    } catch (error) {
      if (error instanceof CommandTooLargeError) {
        // Not sent, so nothing is applied and no retry can succeed: the client must send less.
        throw new ApiError(
          413,
          ERROR_CODE.payloadTooLarge,
          `The request makes a ${command.type} command of ${error.bytes} bytes; this server sends at most ${error.maxBytes} bytes per command. Send fewer or smaller items per request.`,
        );
      }
      if (error instanceof ReplyTimeoutError || error instanceof CommandNotSentError) {
        throw new ApiError(
          503,
          ERROR_CODE.unavailable,
          `The certificate service did not answer in time; retry with the same Idempotency-Key to get the outcome (command id ${commandId}).`,
          commandId,
        );
      }
      throw error;
    }
    if (!reply.ok) throw replyErrorToApiError(reply.error, commandId);
    if (reply.result.type !== RESULT_TYPE[command.type]) {
      throw new ApiError(500, ERROR_CODE.internal, `Unexpected outcome ${reply.result.type} for command ${commandId}.`, commandId);
    }
    for (const listener of this.appliedListeners) listener(reply.result);
    return reply.result as ResultOf<C>;
  }
}

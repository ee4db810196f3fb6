import { Logger, type Provider } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { KafkaCommandTransport, type KafkaClient } from '@p2/messaging';
import { commandTransportHooks, ProcessMetrics } from '@p2/observability';
import type { CommandContext } from '../application/command-context';
import { GroupCommit } from '../application/group-commit';
import { APP_CONFIG } from '@p2/platform';
import { KAFKA } from './kafka.provider';

export const CERTSTORE_GROUP = 'p2-certstore';

/** The microservice transport of the certstore (connected in certstore.app.ts): the certstore
 * consumer group over the commands topic, each partition batch one group commit. */
export const COMMAND_TRANSPORT = Symbol('COMMAND_TRANSPORT');

export const commandTransportProvider: Provider = {
  provide: COMMAND_TRANSPORT,
  inject: [APP_CONFIG, KAFKA, GroupCommit, ProcessMetrics],
  useFactory: (config: AppConfig, kafka: KafkaClient, runner: GroupCommit, metrics: ProcessMetrics) =>
    new KafkaCommandTransport<CommandContext>({
      kafka,
      topics: topicNames(config.kafkaTopicPrefix),
      groupId: `${config.kafkaTopicPrefix}${CERTSTORE_GROUP}`,
      runner,
      logger: new Logger('CommandTransport'),
      partitionsConsumedConcurrently: config.commandConcurrency,
      sessionTimeoutMs: config.kafkaSessionTimeoutMs,
      heartbeatIntervalMs: config.kafkaHeartbeatIntervalMs,
      maxRetryDelayMs: config.commandRetryMaxDelayMs,
      hooks: commandTransportHooks(metrics, new Logger('Commands'), { debugLines: config.logLevel === 'debug' }),
    }),
};

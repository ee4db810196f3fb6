import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Kafka } from 'kafkajs';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { CommandConsumer, KafkaHealthProbe } from '@p2/messaging';
import { CommandProcessor } from '../application/command-processor';
import { APP_CONFIG } from '../config/config.tokens';
import { CacheSignerService } from '../signing/cache-signer.service';
import { ServerKeyService } from '../signing/server-key.service';
import { KAFKA } from './kafka.provider';

export const CERTSTORE_GROUP = 'p2-certstore';

/** Joins the certstore consumer group once the server key is loaded; Kafka spreads the command
 * partitions over all running certstores. */
@Injectable()
export class CommandsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly consumer: CommandConsumer;
  readonly health: KafkaHealthProbe;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(KAFKA) kafka: Kafka,
    processor: CommandProcessor,
    private readonly serverKey: ServerKeyService,
    private readonly cacheSigner: CacheSignerService,
  ) {
    this.consumer = new CommandConsumer({
      kafka,
      topics: topicNames(config.kafkaTopicPrefix),
      groupId: `${config.kafkaTopicPrefix}${CERTSTORE_GROUP}`,
      handle: (command) => processor.handle(command),
      logger: new Logger(CommandsConsumer.name),
    });
    this.health = new KafkaHealthProbe(kafka);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.serverKey.ensureLoaded();
    await this.cacheSigner.start();
    await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.consumer.stop();
    await this.health.close();
  }
}

import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { createKafka, EventSubscriber } from '@p2/messaging';
import { APP_CONFIG } from '@p2/platform';
import { CommandSender } from '../messaging/command-sender.service';
import { cacheChangeOf, type CacheChange } from './cache-change';
import { ReadCache } from './read-cache';
import { TokenCache } from './token-cache';

/**
 * Keeps the gateway's caches true (docs/architecture.md#read-cache): the results of this gateway's
 * own commands are applied before their requests are answered (read your writes), and every event
 * of `p2.core.events.v1` is read in a consumer group of this gateway's own, so that a write through
 * another gateway is seen as soon as the relay publishes it. The caches serve only while that
 * consumer is positioned; when it leaves its group they are emptied and bypassed until it is back.
 */
@Injectable()
export class CacheInvalidationListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('ReadCache');
  private readonly subscriber: EventSubscriber;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    commands: CommandSender,
    private readonly answers: ReadCache,
    private readonly tokens: TokenCache,
  ) {
    commands.onApplied((result) => this.apply(cacheChangeOf(result.type, result)));
    this.subscriber = new EventSubscriber({
      kafka: createKafka({ brokers: config.kafkaBrokers, clientId: `p2-gateway-cache-${config.instanceId}`, logger: new Logger('Kafka') }),
      topic: topicNames(config.kafkaTopicPrefix).events,
      groupId: `${config.kafkaTopicPrefix}p2-gateway-cache-${config.instanceId}`,
      onEvent: (event) => this.apply(cacheChangeOf(event.type, event.data)),
      logger: new Logger('Kafka'),
      onError: (error, event) => this.logger.error(`applying ${event.type} ${event.metadata.messageId} failed: ${(error as Error)?.message ?? error}`),
      onPositioned: () => this.setLive(true),
      onLeft: () => this.setLive(false),
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.setLive(false);
    await this.subscriber.stop();
  }

  private setLive(live: boolean): void {
    this.answers.setLive(live);
    this.tokens.setLive(live);
  }

  private apply(change: CacheChange | undefined): void {
    if (!change) return;
    if (change.everything) {
      this.answers.forgetAll();
      this.tokens.forgetAll();
      return;
    }
    if (change.actor !== undefined) this.answers.forgetActor(change.actor);
    if (change.allTokens) this.tokens.forgetAll();
    else if (change.session) this.tokens.forgetSession(change.session.federationId, change.session.sessionId);
  }
}

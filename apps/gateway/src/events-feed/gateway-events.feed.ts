import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { topicNames } from '@p2/contracts';
import { createKafka, EventSubscriber } from '@p2/messaging';
import { APP_CONFIG } from '@p2/platform';
import { EventsFanOut, type GatewayEventsListener } from './events-fan-out';

/**
 * The gateway's one consumer of `p2.core.events.v1` (docs/architecture.md#events-feed): a consumer
 * group of this gateway's own, from the newest offset, no commits, handing every event to each part
 * of the gateway that subscribed (live events, read cache). One consumer rather than one per part:
 * each event is fetched and parsed once, and an idle gateway pays one fetch loop and one heartbeat.
 */
@Injectable()
export class GatewayEventsFeed implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('GatewayEvents');
  private readonly fanOut = new EventsFanOut((what, error) => this.logger.error(`${what} failed: ${(error as Error)?.message ?? error}`));
  private readonly subscriber: EventSubscriber;
  private started = false;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.subscriber = new EventSubscriber({
      kafka: createKafka({ brokers: config.kafkaBrokers, clientId: `p2-gateway-events-${config.instanceId}`, logger: new Logger('Kafka') }),
      topic: topicNames(config.kafkaTopicPrefix).events,
      groupId: `${config.kafkaTopicPrefix}p2-gateway-events-${config.instanceId}`,
      onEvent: (event) => this.fanOut.event(event),
      // the fan-out catches every listener's failure; this one would be the fan-out's own
      onError: (error, event) => this.logger.error(`handing out ${event.type} ${event.metadata.messageId} failed: ${(error as Error)?.message ?? error}`),
      onJoined: () => this.fanOut.joined(),
      onPositioned: () => this.fanOut.positioned(),
      onLeft: () => this.fanOut.left(),
      logger: new Logger('Kafka'),
    });
  }

  /** For the providers' constructors: a listener added once the consumer runs would have missed
   * its first join and position, so that is refused. */
  subscribe(listener: GatewayEventsListener): void {
    if (this.started) throw new Error('GatewayEventsFeed.subscribe after the feed started');
    this.fanOut.add(listener);
  }

  /** Resolves once the consumer is positioned: the port opens after every bootstrap hook, so a
   * gateway answers nothing before its listeners hear every new event. */
  async onApplicationBootstrap(): Promise<void> {
    this.started = true;
    await this.subscriber.start();
  }

  async onApplicationShutdown(): Promise<void> {
    // events may go unseen from here on; the listeners hear it now, not once leaving the group
    // (which waits for the event in hand) is over
    this.fanOut.left();
    await this.subscriber.stop();
  }
}

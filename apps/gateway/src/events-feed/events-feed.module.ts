import { Module } from '@nestjs/common';
import { GatewayEventsFeed } from './gateway-events.feed';

/** The gateway's one consumer of the events topic, shared by the modules that react to events
 * (docs/architecture.md#events-feed). */
@Module({ providers: [GatewayEventsFeed], exports: [GatewayEventsFeed] })
export class EventsFeedModule {}

import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { EventsFeedModule } from '../events-feed/events-feed.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { ReadModelsModule } from '../read-models/read-models.module';
import { ConnectionRegistry } from './connection-registry';
import { EventsTopicListener } from './events-topic.listener';
import { InboxAcknowledger } from './inbox-acknowledger';
import { InboxPusher } from './inbox-pusher';
import { LiveEventsGateway } from './live-events.gateway';
import { SocketAuthenticator } from './socket-authenticator';

/** The WebSocket gateway at /.p2/core/v1/gateway, fed by p2.core.events.v1 through the events feed (docs/protocol.md#websocket). */
@Module({
  imports: [AuthModule, ReadModelsModule, CommandMessagingModule, EventsFeedModule],
  providers: [LiveEventsGateway, ConnectionRegistry, InboxPusher, InboxAcknowledger, SocketAuthenticator, EventsTopicListener],
})
export class LiveEventsModule {}

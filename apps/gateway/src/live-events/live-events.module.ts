import { Module } from '@nestjs/common';
import { ConnectionRegistry } from './connection-registry';
import { EventsTopicListener } from './events-topic.listener';
import { InboxAcknowledger } from './inbox-acknowledger';
import { InboxPusher } from './inbox-pusher';
import { LiveEventsGateway } from './live-events.gateway';
import { LiveInboxReadModel } from './live-inbox.read-model';
import { SocketAuthenticator } from './socket-authenticator';

/** The WebSocket gateway at /.p2/core/v1/gateway, fed by p2.core.events.v1. Needs APP_CONFIG,
 * ReadModels and CommandSender from the gateway's root module. */
@Module({
  providers: [LiveEventsGateway, ConnectionRegistry, LiveInboxReadModel, InboxPusher, InboxAcknowledger, SocketAuthenticator, EventsTopicListener],
})
export class LiveEventsModule {}

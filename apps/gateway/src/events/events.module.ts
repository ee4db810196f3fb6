import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { EventsController } from './events.controller';

/** GET /events, the inbox polled over HTTP (docs/protocol.md#events-inbox). */
@Module({ imports: [AuthModule, CommandMessagingModule], controllers: [EventsController] })
export class EventsModule {}

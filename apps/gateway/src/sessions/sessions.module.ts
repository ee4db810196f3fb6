import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { SessionTrustController } from './session-trust.controller';
import { SessionsController } from './sessions.controller';

/** Sign-in, logout and session deletion (docs/protocol.md#sessions). */
@Module({ imports: [AuthModule, CommandMessagingModule], controllers: [SessionTrustController, SessionsController] })
export class SessionsModule {}

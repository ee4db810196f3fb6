import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { RotateServerKeyController } from './rotate-server-key.controller';
import { ServerIdentityController } from './server-identity.controller';

/** The home server's identity: its root certificate and key, and their rotation (docs/protocol.md#root-cert). */
@Module({ imports: [AuthModule, CommandMessagingModule], controllers: [ServerIdentityController, RotateServerKeyController] })
export class ServerModule {}

import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { KeyPackagesController } from './key-packages.controller';

/** MLS KeyPackages (docs/protocol.md#key-packages). */
@Module({ imports: [AuthModule, CommandMessagingModule], controllers: [KeyPackagesController] })
export class KeyPackagesModule {}

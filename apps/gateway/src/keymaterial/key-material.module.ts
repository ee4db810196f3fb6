import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { KeyMaterialController } from './key-material.controller';

/** Encrypted private key material (docs/protocol.md#key-material). */
@Module({ imports: [AuthModule, CommandMessagingModule], controllers: [KeyMaterialController] })
export class KeyMaterialModule {}

import { Module } from '@nestjs/common';
import { CredentialSealer } from '../auth/credential-sealer';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { ReadModelsModule } from '../read-models/read-models.module';
import { RegisterController } from './register.controller';

/** POST /register (docs/protocol.md#accounts). */
@Module({ imports: [CommandMessagingModule, ReadModelsModule], controllers: [RegisterController], providers: [CredentialSealer] })
export class RegistrationModule {}

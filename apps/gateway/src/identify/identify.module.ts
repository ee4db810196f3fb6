import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { FederationModule } from '../federation/federation.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { ChallengeController } from './challenge.controller';
import { ExternIdCertController } from './extern-id-cert.controller';
import { IdentifyController } from './identify.controller';
import { PresentedIdCerts } from './presented-id-cert';

/** Challenges, identify and announcements of certificates clients present (docs/protocol.md#challenges). */
@Module({
  imports: [AuthModule, CommandMessagingModule, FederationModule],
  controllers: [ChallengeController, IdentifyController, ExternIdCertController],
  providers: [PresentedIdCerts],
})
export class IdentifyModule {}

import { Module } from '@nestjs/common';
import { requireChallengeKey, type AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import { AuthModule } from '../auth/auth.module';
import { FederationModule } from '../federation/federation.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { ChallengeController } from './challenge.controller';
import { ExternIdCertController } from './extern-id-cert.controller';
import { IdentifyController } from './identify.controller';
import { PresentedIdCerts } from './presented-id-cert';
import { ChallengeSigner } from './signed-challenge';

/** Challenges, identify and announcements of certificates clients present (docs/protocol.md#challenges). */
@Module({
  imports: [AuthModule, CommandMessagingModule, FederationModule],
  controllers: [ChallengeController, IdentifyController, ExternIdCertController],
  providers: [PresentedIdCerts, { provide: ChallengeSigner, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new ChallengeSigner(requireChallengeKey(config)) }],
})
export class IdentifyModule {}

import { Module } from '@nestjs/common';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { ReadModelsModule } from '../read-models/read-models.module';
import { FederationHttpClient } from './federation-http.client';
import { ForeignCertVerifier } from './foreign-cert.verifier';
import { ForeignCertsRefresher } from './foreign-certs.refresher';
import { HomeServerClient } from './home-server.client';

/** Federation on the gateway (docs/protocol.md#federation): the only process that talks to other
 * home servers. Imported by the features that meet foreign certs (identify, extern); its refresher
 * runs once per gateway whoever imports it. */
@Module({
  imports: [CommandMessagingModule, ReadModelsModule],
  providers: [FederationHttpClient, HomeServerClient, ForeignCertVerifier, ForeignCertsRefresher],
  exports: [ForeignCertVerifier],
})
export class FederationModule {}

import { Module } from '@nestjs/common';
import { AggregatesModule } from '../application/aggregates.module';
import { CacheSignerService } from './cache-signer.service';
import { CredentialKeysService } from './credential-keys.service';
import { IdCertIssuer } from './id-cert-issuer.service';
import { ServerKeyService } from './server-key.service';

/** The only module holding the home server's private key: the root, actor certificates, cache
 * information (docs/architecture.md#signing-roots). */
@Module({
  imports: [AggregatesModule],
  providers: [ServerKeyService, CacheSignerService, IdCertIssuer, CredentialKeysService],
  exports: [ServerKeyService, CacheSignerService, IdCertIssuer, CredentialKeysService],
})
export class SigningModule {}

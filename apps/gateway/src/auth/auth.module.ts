import { Module } from '@nestjs/common';
import { requireTokenKey, type AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import { TokenCache } from '../read-cache/token-cache';
import { ReadModelsModule } from '../read-models/read-models.module';
import { CredentialSealer } from './credential-sealer';
import { SessionLookup } from './session-lookup';
import { SessionTokens } from './session-token';

/**
 * Session tokens and what the guards of authenticated, sensitive and admin routes need. Nest builds
 * a guard named by `@UseGuards` in the module of the controller that names it, from what that
 * module sees: a feature module with such routes imports this one, which passes on the lookup of
 * tokens, the read models (passwords) and, being global, the configuration (administrators).
 */
@Module({
  imports: [ReadModelsModule],
  providers: [
    { provide: SessionTokens, inject: [APP_CONFIG], useFactory: (config: AppConfig) => new SessionTokens(requireTokenKey(config)) },
    SessionLookup,
    TokenCache,
    CredentialSealer,
  ],
  exports: [SessionTokens, SessionLookup, TokenCache, CredentialSealer, ReadModelsModule],
})
export class AuthModule {}

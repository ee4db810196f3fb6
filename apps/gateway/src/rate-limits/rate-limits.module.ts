import { Global, Module } from '@nestjs/common';
import { PasswordLockout } from './password-lockout';
import { RateLimiter } from './rate-limiter';

/** Limits against abuse, shared by every feature module (docs/protocol.md#rate-limits). */
@Global()
@Module({ providers: [RateLimiter, PasswordLockout], exports: [RateLimiter, PasswordLockout] })
export class RateLimitsModule {}

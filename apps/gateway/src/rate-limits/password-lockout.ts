import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { afterWrongPassword, APP_CONFIG, CLOCK, lockedForMs, type Clock, type LockoutPolicy, type PasswordFailures } from '@p2/platform';
import { RateLimitedError } from './rate-limited.error';

const SWEEP_EVERY = 1024;

/**
 * Wrong passwords per actor (sign-in and X-P2-Sensitive-Solution alike): after
 * P2_LOGIN_LOCKOUT_AFTER in a row the actor is locked out, for twice as long with each further
 * wrong one; while locked, passwords are not even checked (no scrypt). A right password ends it.
 */
@Injectable()
export class PasswordLockout {
  private readonly enabled: boolean;
  private readonly policy: LockoutPolicy;
  private readonly failures = new Map<string, PasswordFailures>();
  private recorded = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    const limits = config.rateLimits;
    this.enabled = limits.enabled;
    this.policy = { after: limits.lockoutAfter, baseMs: limits.lockoutBaseSeconds * 1000, maxMs: limits.lockoutMaxSeconds * 1000 };
  }

  /** Throws 429 while `actor` is locked out. */
  assertOpen(actor: string): void {
    if (!this.enabled) return;
    const wait = lockedForMs(this.failures.get(actor), this.clock.now().getTime());
    if (wait > 0) throw new RateLimitedError(wait, 'Too many wrong passwords for this actor.');
  }

  wrongPassword(actor: string): void {
    if (!this.enabled) return;
    const now = this.clock.now().getTime();
    if (++this.recorded % SWEEP_EVERY === 0) this.sweep(now);
    this.failures.set(actor, afterWrongPassword(this.failures.get(actor), this.policy, now));
  }

  rightPassword(actor: string): void {
    this.failures.delete(actor);
  }

  /** Forgets actors whose last lock ended longer ago than the longest lock-out. */
  private sweep(now: number): void {
    for (const [actor, failures] of this.failures) if (failures.lockedUntilMs + this.policy.maxMs < now) this.failures.delete(actor);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { afterWrongPassword, APP_CONFIG, CLOCK, failuresExpired, guessesLeft, lockedForMs, setNewest, type Clock, type LockoutPolicy, type PasswordFailures } from '@p2/platform';
import { RateLimitedError } from './rate-limited.error';

const SWEEP_EVERY = 1024;

/** Actors whose wrong passwords a gateway keeps (~180 bytes each with a 60-character name). Beyond it the run touched longest
 * ago is dropped: to wipe one actor's count that way an attacker must first make this many other runs
 * of wrong passwords within the actor's window, against the per-address and per-actor limits. */
export const MAX_TRACKED_ACTORS = 1 << 20;

/** One admitted password check of an actor. It holds a place among the actor's checks in flight
 * until its verdict (`wrong`, `right`) or `end`; callers end it in a `finally`, so that a check
 * failing before its verdict gives its place back. Whatever comes after the first call does nothing. */
export interface PasswordCheck {
  /** The password was wrong: it counts toward the lock-out. */
  wrong(): void;
  /** The password was right: the count starts again. */
  right(): void;
  /** No verdict (the check failed): the place is given back, nothing is counted. */
  end(): void;
}

const UNCOUNTED: PasswordCheck = { wrong: () => undefined, right: () => undefined, end: () => undefined };

/** A check refused for the checks in flight waits for them, about one scrypt each: the shortest Retry-After. */
const IN_FLIGHT_RETRY_MS = 1000;

/**
 * Wrong passwords per actor (sign-in and X-P2-Sensitive-Solution alike): after
 * P2_LOGIN_LOCKOUT_AFTER in a row the actor is locked out, for twice as long with each further
 * wrong one; while locked, passwords are not even checked (no scrypt). A right password ends it.
 * Checks still in flight count as wrong ones: concurrent requests cannot all pass before the first
 * failure is recorded and get more guesses than P2_LOGIN_LOCKOUT_AFTER.
 */
@Injectable()
export class PasswordLockout {
  private readonly enabled: boolean;
  private readonly policy: LockoutPolicy;
  /** In the order the runs were last touched (re-inserted on every wrong password), oldest first. */
  private readonly failures = new Map<string, PasswordFailures>();
  protected readonly maxTracked: number = MAX_TRACKED_ACTORS;
  /** Checks begun and not yet ended, per actor; an actor without any has no entry. */
  private readonly inFlight = new Map<string, number>();
  private recorded = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    const limits = config.rateLimits;
    this.enabled = limits.enabled;
    this.policy = { after: limits.lockoutAfter, baseMs: limits.lockoutBaseSeconds * 1000, maxMs: limits.lockoutMaxSeconds * 1000 };
  }

  /** Throws the lock-out's 429 while `actor` is locked out. Asked before the request limits: a
   * locked-out actor's request would otherwise empty the actor's bucket and be answered with the
   * bucket's wait, shorter than the lock-out's (the retry then met the lock-out, with a new wait). */
  assertNotLockedOut(actor: string): void {
    if (!this.enabled) return;
    const now = this.clock.now().getTime();
    const wait = lockedForMs(this.current(actor, now), now);
    if (wait > 0) throw new RateLimitedError(wait, 'Too many wrong passwords for this actor.');
  }

  /** Admits one password check of `actor`, before anything costly runs. Throws 429 while the actor
   * is locked out, or while the checks in flight, were they all wrong, would already lock it. */
  begin(actor: string): PasswordCheck {
    if (!this.enabled) return UNCOUNTED;
    const now = this.clock.now().getTime();
    this.assertNotLockedOut(actor);
    const failures = this.current(actor, now);
    const inFlight = this.inFlight.get(actor) ?? 0;
    if (inFlight >= guessesLeft(failures, this.policy)) throw new RateLimitedError(IN_FLIGHT_RETRY_MS, 'Too many password checks for this actor at once.');
    this.inFlight.set(actor, inFlight + 1);
    let open = true;
    const end = () => {
      if (!open) return;
      open = false;
      const left = this.inFlight.get(actor)! - 1;
      if (left > 0) this.inFlight.set(actor, left);
      else this.inFlight.delete(actor);
    };
    return {
      wrong: () => {
        if (open) this.wrongPassword(actor);
        end();
      },
      right: () => {
        if (open) this.failures.delete(actor);
        end();
      },
      end,
    };
  }

  /** The actor's run of wrong passwords, unless it is over. */
  private current(actor: string, now: number): PasswordFailures | undefined {
    const failures = this.failures.get(actor);
    if (!failures || !failuresExpired(failures, this.policy, now)) return failures;
    this.failures.delete(actor);
    return undefined;
  }

  private wrongPassword(actor: string): void {
    const now = this.clock.now().getTime();
    if (++this.recorded % SWEEP_EVERY === 0) this.sweep(now);
    const next = afterWrongPassword(this.current(actor, now), this.policy, now);
    setNewest(this.failures, actor, next, this.maxTracked);
  }

  /** Forgets the runs that are over. A run below the lock-out count is kept as long as a locked
   * one: sweeping it sooner let wrong passwords under made-up names wipe a real actor's count. */
  private sweep(now: number): void {
    for (const [actor, failures] of this.failures) if (failuresExpired(failures, this.policy, now)) this.failures.delete(actor);
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig, RateLimitPair, RateLimitsConfig } from '@p2/config';
import { APP_CONFIG, bucketIsFull, CLOCK, takeToken, type Bucket, type Clock, type RateRule } from '@p2/platform';
import { RateLimitedError } from './rate-limited.error';

/** The routes limited per client address and per actor (docs/protocol.md#rate-limits). */
/** `extern`: certificate announcements, with identify's numbers in buckets of their own (docs/protocol.md#rate-limits). */
export type LimitedAction = 'register' | 'session' | 'identify' | 'extern' | 'challenge' | 'sensitive' | 'keyPackageClaim';

/** Buckets not touched for this many checks are swept when full again, so memory follows the
 * number of recent clients, not of all clients ever seen. */
const SWEEP_EVERY = 4096;

/**
 * Token buckets in this process's memory: one Map lookup and a few operations per request, on the
 * hot path of sign-in. Per gateway by design; a cluster's own limits sit in front of it.
 */
@Injectable()
export class RateLimiter {
  private readonly limits: RateLimitsConfig;
  private readonly buckets = new Map<string, { bucket: Bucket; rule: RateRule }>();
  private checks = 0;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.limits = config.rateLimits;
  }

  /** Takes one request of `action` from `address` (and for `actor`, when known); throws 429 when
   * either bucket is empty. */
  check(action: LimitedAction, address: string | undefined, actor?: string): void {
    if (!this.limits.enabled) return;
    const pair: RateLimitPair = this.limits[action === 'extern' ? 'identify' : action];
    const now = this.clock.now().getTime();
    if (++this.checks % SWEEP_EVERY === 0) this.sweep(now);
    if (address) this.take(`${action}\n@${address}`, { perMinute: pair.perAddress }, now, 'Too many requests of this kind from your address.');
    if (actor) this.take(`${action}\n${actor}`, { perMinute: pair.perActor }, now, 'Too many requests of this kind for this actor.');
  }

  /** Claims of `target`'s KeyPackages: by everyone together, and by `claimer` alone, so that no one
   * empties another actor's stock down to its last-resort packages (docs/protocol.md#rate-limits). */
  checkKeyPackageTarget(claimer: string, target: string): void {
    if (!this.limits.enabled) return;
    const { perTarget, perClaimer } = this.limits.keyPackageTarget;
    const now = this.clock.now().getTime();
    // the claimer's own bucket first: claims it is refused do not use up everyone's
    this.take(`keyPackageTarget\n${claimer}\n${target}`, { perMinute: perClaimer }, now, "Too many claims of this actor's KeyPackages by you.");
    this.take(`keyPackageTarget\n${target}`, { perMinute: perTarget }, now, "Too many claims of this actor's KeyPackages.");
  }

  private take(key: string, rule: RateRule, now: number, message: string): void {
    const { bucket, retryAfterMs } = takeToken(this.buckets.get(key)?.bucket, rule, now);
    this.buckets.set(key, { bucket, rule });
    if (retryAfterMs > 0) throw new RateLimitedError(retryAfterMs, message);
  }

  private sweep(now: number): void {
    for (const [key, { bucket, rule }] of this.buckets) if (bucketIsFull(bucket, rule, now)) this.buckets.delete(key);
  }
}

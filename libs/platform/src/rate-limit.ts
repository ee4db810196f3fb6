/**
 * Pure arithmetic of the gateway's limits against abuse (docs/protocol.md#rate-limits): a token
 * bucket per key, and the back-off of an actor after repeated wrong passwords. Times are
 * milliseconds of the injectable clock, so that tests move time instead of waiting.
 */

/** At most `perMinute` requests in a burst, refilled evenly over a minute. */
export interface RateRule {
  readonly perMinute: number;
}

export interface Bucket {
  readonly tokens: number;
  readonly atMs: number;
}

/** The bucket after one request at `nowMs`, and how long the caller must wait when it is refused
 * (0: allowed, and the token is taken). */
export function takeToken(bucket: Bucket | undefined, rule: RateRule, nowMs: number): { readonly bucket: Bucket; readonly retryAfterMs: number } {
  const perMs = rule.perMinute / 60_000;
  const elapsed = Math.max(0, nowMs - (bucket?.atMs ?? nowMs));
  const tokens = Math.min(rule.perMinute, (bucket?.tokens ?? rule.perMinute) + elapsed * perMs);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, atMs: nowMs }, retryAfterMs: 0 };
  return { bucket: { tokens, atMs: nowMs }, retryAfterMs: Math.ceil((1 - tokens) / perMs) };
}

/** Whether a bucket last touched at `bucket.atMs` is full again at `nowMs` (it can be forgotten). */
export function bucketIsFull(bucket: Bucket, rule: RateRule, nowMs: number): boolean {
  return bucket.tokens + (nowMs - bucket.atMs) * (rule.perMinute / 60_000) >= rule.perMinute;
}

/** After `after` wrong passwords in a row an actor is locked for `baseMs`, doubled with every
 * further wrong one, at most `maxMs`. */
export interface LockoutPolicy {
  readonly after: number;
  readonly baseMs: number;
  readonly maxMs: number;
}

export interface PasswordFailures {
  readonly count: number;
  readonly lockedUntilMs: number;
  /** when the last wrong password of the run came */
  readonly lastWrongMs: number;
}

/**
 * Whether a run of wrong passwords is over at `nowMs`: the longest lock-out has passed since its last
 * wrong password and since its lock ended. Until then it is kept whole, below the lock-out count as
 * well: forgetting a run early would hand its actor a fresh set of guesses.
 */
export function failuresExpired(failures: PasswordFailures, policy: LockoutPolicy, nowMs: number): boolean {
  return Math.max(failures.lastWrongMs, failures.lockedUntilMs) + policy.maxMs <= nowMs;
}

/** The failures after one more wrong password at `nowMs` (a run that expired starts again). */
export function afterWrongPassword(previous: PasswordFailures | undefined, policy: LockoutPolicy, nowMs: number): PasswordFailures {
  const current = previous && !failuresExpired(previous, policy, nowMs) ? previous : undefined;
  const count = (current?.count ?? 0) + 1;
  if (count < policy.after) return { count, lockedUntilMs: current?.lockedUntilMs ?? 0, lastWrongMs: nowMs };
  const lockMs = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(30, count - policy.after));
  return { count, lockedUntilMs: nowMs + lockMs, lastWrongMs: nowMs };
}

/** How many passwords of the actor may be checked at once before the next lock-out: the wrong ones
 * still allowed in a row, and once the actor has been locked, one (each further wrong one locks again). */
export function guessesLeft(failures: PasswordFailures | undefined, policy: LockoutPolicy): number {
  return Math.max(1, policy.after - (failures?.count ?? 0));
}

/** Milliseconds until the actor may try a password again (0: now). */
export function lockedForMs(failures: PasswordFailures | undefined, nowMs: number): number {
  return failures ? Math.max(0, failures.lockedUntilMs - nowMs) : 0;
}

import { afterWrongPassword, bucketIsFull, failuresExpired, guessesLeft, lockedForMs, takeToken, type Bucket, type PasswordFailures } from '../src';

describe('token bucket', () => {
  const rule = { perMinute: 3 };

  it('lets a burst of perMinute through, then says how long until the next token', () => {
    let bucket: Bucket | undefined;
    for (let i = 0; i < 3; i++) {
      const taken = takeToken(bucket, rule, 1_000);
      expect(taken.retryAfterMs).toBe(0);
      bucket = taken.bucket;
    }
    const refused = takeToken(bucket, rule, 1_000);
    expect(refused.retryAfterMs).toBe(20_000);
    expect(takeToken(refused.bucket, rule, 21_000).retryAfterMs).toBe(0);
  });

  it('is full again after a minute of silence, and never holds more than perMinute', () => {
    const empty = { tokens: 0, atMs: 0 };
    expect(bucketIsFull(empty, rule, 59_999)).toBe(false);
    expect(bucketIsFull(empty, rule, 60_000)).toBe(true);
    expect(takeToken(empty, rule, 3_600_000).bucket.tokens).toBe(2);
  });
});

describe('lock-out after wrong passwords', () => {
  const policy = { after: 3, baseMs: 10_000, maxMs: 40_000 };

  it('locks after `after` wrong passwords, doubling up to the maximum', () => {
    let failures: PasswordFailures | undefined;
    const locks: number[] = [];
    for (let i = 0; i < 6; i++) {
      failures = afterWrongPassword(failures, policy, 0);
      locks.push(lockedForMs(failures, 0));
    }
    expect(locks).toEqual([0, 0, 10_000, 20_000, 40_000, 40_000]);
    expect(lockedForMs(failures, 40_000)).toBe(0);
    expect(lockedForMs(undefined, 0)).toBe(0);
  });

  it('starts a run again once it expired: the longest lock-out after its last wrong password and its lock', () => {
    const two = afterWrongPassword(afterWrongPassword(undefined, policy, 0), policy, 1_000);
    expect(two).toEqual({ count: 2, lockedUntilMs: 0, lastWrongMs: 1_000 });
    expect(failuresExpired(two, policy, 40_999)).toBe(false);
    expect(failuresExpired(two, policy, 41_000)).toBe(true);
    expect(afterWrongPassword(two, policy, 41_000)).toEqual({ count: 1, lockedUntilMs: 0, lastWrongMs: 41_000 });
    const locked = afterWrongPassword(two, policy, 2_000);
    expect(locked).toEqual({ count: 3, lockedUntilMs: 12_000, lastWrongMs: 2_000 });
    expect(failuresExpired(locked, policy, 51_999)).toBe(false);
    expect(failuresExpired(locked, policy, 52_000)).toBe(true);
  });

  it('leaves `after` guesses minus the wrong ones in a row, and one once the actor has been locked', () => {
    let failures: PasswordFailures | undefined;
    const left = [guessesLeft(failures, policy)];
    for (let i = 0; i < 4; i++) left.push(guessesLeft((failures = afterWrongPassword(failures, policy, 0)), policy));
    expect(left).toEqual([3, 2, 1, 1, 1]);
  });
});

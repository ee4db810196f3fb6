import { afterWrongPassword, bucketIsFull, guessesLeft, lockedForMs, takeToken, type Bucket, type PasswordFailures } from '../src';

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

  it('leaves `after` guesses minus the wrong ones in a row, and one once the actor has been locked', () => {
    let failures: PasswordFailures | undefined;
    const left = [guessesLeft(failures, policy)];
    for (let i = 0; i < 4; i++) left.push(guessesLeft((failures = afterWrongPassword(failures, policy, 0)), policy));
    expect(left).toEqual([3, 2, 1, 1, 1]);
  });
});

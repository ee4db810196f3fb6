import type { ExecutionContext } from '@nestjs/common';
import { loadConfig } from '@p2/config';
import type { AuditLog } from '@p2/observability';
import { TestClock } from '@p2/testing';
import { SESSION_KEY } from '../src/auth/authenticated-session';
import type { CredentialSealer } from '../src/auth/credential-sealer';
import { SensitiveActionGuard } from '../src/auth/sensitive-action.guard';
import type { SessionTokens } from '../src/auth/session-token';
import type { CommandSender } from '../src/messaging/command-sender.service';
import { PasswordLockout, type PasswordCheck } from '../src/rate-limits/password-lockout';
import type { RateLimiter } from '../src/rate-limits/rate-limiter';
import type { ReadDatabase } from '../src/read-models/read-database';
import { SessionTrustController } from '../src/sessions/session-trust.controller';

const config = (env: Record<string, string> = {}) =>
  loadConfig(
    {
      NODE_ENV: 'test',
      KAFKA_BROKERS: '127.0.0.1:1',
      P2_TOKEN_KEY: '00'.repeat(32),
      P2_CHALLENGE_KEY: '01'.repeat(32),
      P2_DOMAIN: 'example.com',
      P2_LOGIN_LOCKOUT_AFTER: '3',
      P2_LOGIN_LOCKOUT_BASE_SECONDS: '10',
      P2_LOGIN_LOCKOUT_MAX_SECONDS: '40',
      ...env,
    },
    { role: 'gateway' },
  );

/** Begins `count` checks of `actor`: those admitted, and the status of each refusal. */
function beginMany(lockout: PasswordLockout, actor: string, count: number): { admitted: PasswordCheck[]; refused: number[] } {
  const admitted: PasswordCheck[] = [];
  const refused: number[] = [];
  for (let i = 0; i < count; i++) {
    try {
      admitted.push(lockout.begin(actor));
    } catch (error) {
      refused.push((error as { status: number }).status);
    }
  }
  return { admitted, refused };
}

describe('PasswordLockout (docs/protocol.md#rate-limits)', () => {
  let clock: TestClock;
  let lockout: PasswordLockout;

  beforeEach(() => {
    clock = new TestClock();
    clock.freeze();
    lockout = new PasswordLockout(config(), clock);
  });

  it('admits as many concurrent checks of an actor as wrong passwords would lock it, and refuses the rest with 429', () => {
    const { admitted, refused } = beginMany(lockout, 'alice@example.com', 10);
    expect(admitted).toHaveLength(3);
    expect(refused).toEqual(Array(7).fill(429));
    // other actors are not held up
    expect(beginMany(lockout, 'bob@example.com', 1).admitted).toHaveLength(1);
  });

  it('counts the wrong passwords in a row and the checks in flight together', () => {
    lockout.begin('alice@example.com').wrong();
    const { admitted, refused } = beginMany(lockout, 'alice@example.com', 5);
    expect([admitted.length, refused.length]).toEqual([2, 3]);
    for (const check of admitted) check.wrong();
    // three wrong in a row: locked for the base time, then one guess at a time
    expect(beginMany(lockout, 'alice@example.com', 1).refused).toEqual([429]);
    clock.advance(10_000);
    expect(beginMany(lockout, 'alice@example.com', 3).admitted).toHaveLength(1);
  });

  it('opens again on a right password: the count starts over, with the checks still in flight counted', () => {
    const { admitted } = beginMany(lockout, 'alice@example.com', 3);
    admitted[0]!.wrong();
    admitted[1]!.right();
    expect(beginMany(lockout, 'alice@example.com', 5).admitted).toHaveLength(2);
  });

  it('gives the place back on end without counting it, once only, and ignores what comes after the first call', () => {
    const first = beginMany(lockout, 'alice@example.com', 3).admitted;
    for (const check of first) {
      check.end();
      check.end();
      check.wrong();
    }
    // nothing was counted and every place is free again: three more, not more
    const second = beginMany(lockout, 'alice@example.com', 4);
    expect([second.admitted.length, second.refused.length]).toEqual([3, 1]);
    for (const check of second.admitted) {
      check.wrong();
      check.end();
    }
    expect(beginMany(lockout, 'alice@example.com', 1).refused).toEqual([429]);
  });

  it('keeps a run below the lock-out count however many wrong passwords other names get (an attacker cannot wipe it)', () => {
    beginMany(lockout, 'alice@example.com', 2).admitted.forEach((check) => check.wrong());
    // made-up names, each wrong once: more than a sweep's period, so sweeps run in between
    for (let i = 0; i < 2100; i++) lockout.begin(`nobody${i}@example.com`).wrong();
    const left = beginMany(lockout, 'alice@example.com', 3).admitted;
    expect(left).toHaveLength(1);
    left[0]!.wrong();
    expect(beginMany(lockout, 'alice@example.com', 1).refused).toEqual([429]);
  });

  it('forgets a run once the longest lock-out has passed since its last wrong password (and since its lock ended)', () => {
    beginMany(lockout, 'alice@example.com', 2).admitted.forEach((check) => check.wrong());
    clock.advance(39_999);
    const held = beginMany(lockout, 'alice@example.com', 3);
    expect(held.admitted).toHaveLength(1);
    held.admitted[0]!.end();
    clock.advance(1);
    beginMany(lockout, 'alice@example.com', 3).admitted.forEach((check) => check.end());
    // a locked run: kept until 40 s after its 10 s lock ended
    beginMany(lockout, 'bob@example.com', 3).admitted.forEach((check) => check.wrong());
    clock.advance(49_999);
    const one = beginMany(lockout, 'bob@example.com', 3).admitted;
    expect(one).toHaveLength(1);
    one[0]!.end();
    clock.advance(1);
    expect(beginMany(lockout, 'bob@example.com', 3).admitted).toHaveLength(3);
  });

  it('keeps at most its bound of runs, dropping the one touched longest ago', () => {
    class SmallLockout extends PasswordLockout {
      protected override readonly maxTracked = 3;
    }
    const small = new SmallLockout(config(), clock);
    small.begin('alice@example.com').wrong();
    small.begin('bob@example.com').wrong();
    small.begin('carol@example.com').wrong();
    // alice's run is touched again by a wrong password: dave's then pushes out bob's, the oldest
    small.begin('alice@example.com').wrong();
    small.begin('dave@example.com').wrong();
    expect(beginMany(small, 'alice@example.com', 3).admitted).toHaveLength(1);
    expect(beginMany(small, 'bob@example.com', 3).admitted).toHaveLength(3);
  });

  it('does nothing when limits are switched off', () => {
    const off = new PasswordLockout(config({ P2_RATE_LIMITS_ENABLED: 'false' }), clock);
    const { admitted } = beginMany(off, 'alice@example.com', 10);
    expect(admitted).toHaveLength(10);
    for (const check of admitted) check.wrong();
    expect(beginMany(off, 'alice@example.com', 1).admitted).toHaveLength(1);
  });
});

describe('the users of the lock-out give the place back when the check fails before its verdict', () => {
  const outage = new Error('database unreachable');
  const db = { prepared: { query: () => Promise.reject(outage) } } as unknown as ReadDatabase;
  const audit = { record: () => undefined } as unknown as AuditLog;
  const limits = { check: () => undefined } as unknown as RateLimiter;

  it('POST /session/trust', async () => {
    const lockout = new PasswordLockout(config(), new TestClock());
    const controller = new SessionTrustController(config(), {} as CommandSender, db, {} as SessionTokens, audit, limits, lockout, {} as CredentialSealer);
    for (let i = 0; i < 5; i++) {
      await expect(controller.trust({ actor_name: 'alice', csr: 'not a csr', auth_payload: { password: 'password' } }, '198.51.100.1')).rejects.toBe(outage);
    }
    expect(beginMany(lockout, 'alice@example.com', 4).admitted).toHaveLength(3);
  });

  it('X-P2-Sensitive-Solution', async () => {
    const lockout = new PasswordLockout(config(), new TestClock());
    const guard = new SensitiveActionGuard(config(), db, audit, limits, lockout);
    const request = { headers: { 'x-p2-sensitive-solution': 'password' }, ip: '198.51.100.1', [SESSION_KEY]: { federationId: 'alice@example.com', sessionId: 'laptop' } };
    const context = { switchToHttp: () => ({ getRequest: () => request }) } as unknown as ExecutionContext;
    for (let i = 0; i < 5; i++) await expect(guard.canActivate(context)).rejects.toBe(outage);
    expect(beginMany(lockout, 'alice@example.com', 4).admitted).toHaveLength(3);
  });
});

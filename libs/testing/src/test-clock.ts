import type { Clock } from '@p2/platform';

/**
 * A clock a test moves: it follows the system clock until `freeze`, then stands still; `advance`
 * moves it (frozen or not), `resume` lets it run again from where it stands. Handed to the apps of
 * a TestCluster, it makes expiry tests independent of the wall clock.
 */
export class TestClock implements Clock {
  private offsetMs = 0;
  private frozenAt?: number;

  now(): Date {
    return new Date(this.frozenAt ?? Date.now() + this.offsetMs);
  }

  /** Stops the clock at `at` (default: the current reading). */
  freeze(at: Date = this.now()): void {
    this.frozenAt = at.getTime();
  }

  /** Moves the clock forward by `ms` (backward when negative). */
  advance(ms: number): void {
    if (this.frozenAt === undefined) this.offsetMs += ms;
    else this.frozenAt += ms;
  }

  /** Lets a frozen clock run again from its current reading. */
  resume(): void {
    if (this.frozenAt === undefined) return;
    this.offsetMs = this.frozenAt - Date.now();
    this.frozenAt = undefined;
  }
}

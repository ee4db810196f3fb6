import { TestClock } from '@p2/testing';

describe('TestClock', () => {
  it('follows the system clock until frozen, then stands still and moves only when advanced', () => {
    const clock = new TestClock();
    const before = Date.now();
    const reading = clock.now().getTime();
    expect(reading).toBeGreaterThanOrEqual(before);
    expect(reading).toBeLessThanOrEqual(Date.now());

    const at = new Date('2026-03-31T00:00:00Z');
    clock.freeze(at);
    expect(clock.now()).toEqual(at);
    expect(clock.now()).toEqual(at);
    clock.advance(1000);
    expect(clock.now()).toEqual(new Date('2026-03-31T00:00:01Z'));
  });

  it('runs again from where it stood after resume, and keeps an advance made while running', () => {
    const clock = new TestClock();
    clock.freeze(new Date('2030-01-01T00:00:00Z'));
    clock.resume();
    const resumed = clock.now().getTime();
    expect(resumed).toBeGreaterThanOrEqual(Date.parse('2030-01-01T00:00:00Z'));
    expect(resumed).toBeLessThan(Date.parse('2030-01-01T00:01:00Z'));

    const running = new TestClock();
    running.advance(3_600_000);
    expect(running.now().getTime()).toBeGreaterThanOrEqual(Date.now() + 3_600_000 - 50);
  });
});

import { spreadSchedule } from '../src/live-events/key-change-spread';

describe('spreadSchedule (server key change spread over a window)', () => {
  it('serves every recipient exactly once, in slices at least 50 ms apart, all inside the window', () => {
    const steps = spreadSchedule(10000, 60000);
    expect(steps).toHaveLength(1200);
    expect(steps[0]).toEqual({ delayMs: 0, from: 0, to: 8 });
    expect(steps.at(-1)!.to).toBe(10000);
    for (let i = 1; i < steps.length; i++) {
      expect(steps[i]!.from).toBe(steps[i - 1]!.to);
      expect(steps[i]!.delayMs - steps[i - 1]!.delayMs).toBeGreaterThanOrEqual(50);
    }
    expect(steps.at(-1)!.delayMs).toBeLessThan(60000);
  });

  it('uses one slice per recipient when there are few, and serves everyone at once without a window', () => {
    expect(spreadSchedule(3, 60000)).toEqual([
      { delayMs: 0, from: 0, to: 1 },
      { delayMs: 20000, from: 1, to: 2 },
      { delayMs: 40000, from: 2, to: 3 },
    ]);
    expect(spreadSchedule(5, 0)).toEqual([{ delayMs: 0, from: 0, to: 5 }]);
    expect(spreadSchedule(0, 1000)).toEqual([]);
  });
});

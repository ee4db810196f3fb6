/** One slice of a spread delivery: recipients [from, to) are served after `delayMs`. */
export interface SpreadStep {
  readonly delayMs: number;
  readonly from: number;
  readonly to: number;
}

/** Slices are at least this far apart, so a large audience costs few timers and few queries. */
export const MIN_SPREAD_STEP_MS = 50;

/**
 * How `count` recipients are served evenly over `windowMs`: the first slice at once, the last one
 * before the window ends. A window of 0 (or one recipient) serves everyone at once.
 */
export function spreadSchedule(count: number, windowMs: number, minStepMs = MIN_SPREAD_STEP_MS): SpreadStep[] {
  if (count === 0) return [];
  const slices = Math.max(1, Math.min(count, Math.floor(windowMs / minStepMs)));
  const steps: SpreadStep[] = [];
  for (let i = 0; i < slices; i++) {
    const from = Math.floor((i * count) / slices);
    const to = Math.floor(((i + 1) * count) / slices);
    steps.push({ delayMs: Math.floor((i * windowMs) / slices), from, to });
  }
  return steps;
}

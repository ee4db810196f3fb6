/**
 * Where the apps read the time for decisions and expiries: the instant a command is handled at,
 * token and certificate validity, challenge expiry, cache windows. Provided by the {@link CLOCK}
 * token, the system clock by default, so that tests can move time instead of waiting for it
 * (docs/architecture.md#clock). Timers (heartbeat deadlines, polling) keep real time.
 */
export interface Clock {
  now(): Date;
}

/** Injection token of the {@link Clock}. */
export const CLOCK = Symbol('CLOCK');

/** The machine's clock. */
export const systemClock: Clock = { now: () => new Date() };

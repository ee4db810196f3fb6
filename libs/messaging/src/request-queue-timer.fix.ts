/**
 * kafkajs 2.2.4 keeps every broker connection's request queue polling itself once a millisecond,
 * for as long as the connection lives, whether anything waits or not (kafkajs issues #1556, #1604,
 * #1704; unfixed upstream, kafkajs is unmaintained). `checkPendingRequests` ends by calling
 * `scheduleCheckPendingRequests`, which, with nothing pending and no broker throttling, sets a
 * timeout of `throttledUntil - Date.now()`: negative, so Node runs it after 1 ms, and it calls
 * `checkPendingRequests` again. Measured on the development machine (2 vCPUs): each app's main
 * thread spent ~50 ms of CPU per second doing nothing (docs/benchmarks.md#idle-timers), CPU taken
 * from the work and from scrypt on the session routes.
 *
 * The replacement schedules a check only when one can find something to do: a request waits (for
 * the in-flight limit or a throttle) or the broker throttles this connection. Every other way a
 * request can become sendable already checks the queue itself: `push` sends at once or schedules,
 * and an answer or a timeout of an in-flight request calls `checkPendingRequests`.
 */

/** The fields of kafkajs' RequestQueue the replacement uses. */
interface RequestQueueInternals {
  pending: unknown[];
  throttledUntil: number;
  throttleCheckTimeoutId: NodeJS.Timeout | null;
  checkPendingRequests(): void;
  scheduleCheckPendingRequests(): void;
}

/** kafkajs' own delay before a waiting request is looked at again (CHECK_PENDING_REQUESTS_INTERVAL). */
const CHECK_PENDING_REQUESTS_INTERVAL_MS = 10;

/** What the loop's source says in the kafkajs versions that have it. */
const LOOPING_SOURCE = /let scheduleAt = this\.throttledUntil - Date\.now\(\)[\s\S]*if \(this\.pending\.length > 0\)[\s\S]*setTimeout/;

let outcome: 'replaced' | 'not-needed' | undefined;

/** Replaces `RequestQueue.prototype.scheduleCheckPendingRequests` once per process, if it is the
 * looping one; returns what it did. */
export function stopIdleRequestQueueTimers(): 'replaced' | 'not-needed' {
  if (outcome) return outcome;
  const RequestQueue = require('kafkajs/src/network/requestQueue') as { prototype: RequestQueueInternals };
  const original = RequestQueue.prototype.scheduleCheckPendingRequests;
  if (!LOOPING_SOURCE.test(original.toString())) return (outcome = 'not-needed');
  RequestQueue.prototype.scheduleCheckPendingRequests = function scheduleCheckPendingRequests(this: RequestQueueInternals) {
    if (this.throttleCheckTimeoutId) return;
    const throttledFor = this.throttledUntil - Date.now();
    if (this.pending.length === 0 && throttledFor <= 0) return;
    this.throttleCheckTimeoutId = setTimeout(
      () => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      },
      throttledFor > 0 ? throttledFor : CHECK_PENDING_REQUESTS_INTERVAL_MS,
    );
  };
  return (outcome = 'replaced');
}

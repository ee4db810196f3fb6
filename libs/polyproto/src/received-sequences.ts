import { fail } from './errors';
import type { HeartbeatPayload } from './gateway-message';

/** What one heartbeat tells the server: the new contiguous watermark and what to send again. */
export interface HeartbeatOutcome {
  /** Every sequence number up to this one has been confirmed received. */
  readonly confirmedUpTo: number;
  /** Listed in `except`, above the watermark and never confirmed: to be sent again (2025 §3.2.6). */
  readonly resend: readonly number[];
}

/**
 * The client's account of what it received, as heartbeats state it (2025 §3.2.3.8, §3.2.6). A
 * heartbeat covers one interval, so `except` may name numbers an earlier heartbeat confirmed
 * (polyproto-rs builds the range from the numbers received in the interval, gaps included): those
 * stay confirmed and are not sent again. Only the contiguous prefix counts as acknowledged.
 * Memory is bounded by the numbers sent on the connection and not yet below the watermark.
 */
export class ReceivedSequences {
  private watermark: number;
  private readonly above = new Set<number>();

  /** @param confirmedUpTo what the client already has when the connection starts (its Resume `s`, or
   * what it acknowledged before). */
  constructor(confirmedUpTo: number) {
    this.watermark = confirmedUpTo;
  }

  get confirmedUpTo(): number {
    return this.watermark;
  }

  /**
   * Applies one heartbeat. `lastSent` is the highest sequence number sent on this connection; a
   * heartbeat claiming more, or with `from` > `to`, or an `except` outside [from, to], is refused
   * with `GATEWAY_SEQUENCE_INVALID` (close 4007). `from` = `to` = 0 confirms nothing.
   */
  apply(heartbeat: HeartbeatPayload, lastSent: number): HeartbeatOutcome {
    const { from, to, except } = heartbeat;
    if (from > to) fail('GATEWAY_SEQUENCE_INVALID', 'd.from', '2025 §3.2.3.8: from is at most to');
    if (to > lastSent) fail('GATEWAY_SEQUENCE_INVALID', 'd.to', `sequence number ${to} was never sent on this connection (last ${lastSent})`);
    for (const s of except) {
      if (s < from || s > to) fail('GATEWAY_SEQUENCE_INVALID', 'd.except', `2025 §3.2.3.8: ${s} lies outside [${from}, ${to}]`);
    }
    if (to > 0) {
      const missing = new Set(except);
      for (let s = Math.max(from, this.watermark + 1); s <= to; s++) if (!missing.has(s)) this.above.add(s);
      while (this.above.delete(this.watermark + 1)) this.watermark++;
    }
    const resend = [...new Set(except)].filter((s) => s > this.watermark && !this.above.has(s)).sort((a, b) => a - b);
    return { confirmedUpTo: this.watermark, resend };
  }
}

import { Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import type { SessionGroup } from './connection-registry';
import { inboxItemsAfter } from '@p2/read-models';
import { ReadDatabase } from '../read-models/read-database';
import { spreadSchedule } from './key-change-spread';

/** Items read per session and pull; a longer backlog goes out page by page as the socket drains. */
export const PUSH_PAGE = 100;
/** Sessions read in one query. */
const SESSIONS_PER_QUERY = 500;
/** After a failed read, the sessions are tried again this much later. */
const RETRY_MS = 1000;

/**
 * Pushes a session's new inbox items to its sockets on this gateway. Anything may mark a session
 * "dirty" (an event on the topic, an Identify, a drained socket); one loop reads the items after
 * what each socket last got, for many sessions per query, and writes them. A session marked again
 * while its read is in flight is read again, so an item committed meanwhile is never skipped.
 */
@Injectable()
export class InboxPusher implements OnModuleDestroy {
  private readonly logger = new Logger('LiveEvents');
  private readonly dirty = new Set<SessionGroup>();
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly db: ReadDatabase) {}

  markDirty(group: SessionGroup): void {
    this.dirty.add(group);
    if (this.running) return;
    this.running = true;
    setImmediate(() => void this.run());
  }

  /** Marks the sessions dirty spread evenly over `windowMs` (a server key change reaches everyone,
   * but not at once: docs/protocol.md#websocket-key-change). */
  markSpread(groups: readonly SessionGroup[], windowMs: number): void {
    for (const step of spreadSchedule(groups.length, windowMs)) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        for (const group of groups.slice(step.from, step.to)) this.markDirty(group);
      }, step.delayMs);
      this.timers.add(timer);
    }
  }

  onModuleDestroy(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.dirty.clear();
  }

  private async run(): Promise<void> {
    try {
      while (this.dirty.size > 0) {
        const batch: SessionGroup[] = [];
        for (const group of this.dirty) {
          this.dirty.delete(group);
          batch.push(group);
          if (batch.length === SESSIONS_PER_QUERY) break;
        }
        await this.pull(batch);
      }
    } finally {
      this.running = false;
      if (this.dirty.size > 0) this.markDirty(this.dirty.values().next().value!);
    }
  }

  private async pull(batch: SessionGroup[]): Promise<void> {
    const wants = batch.flatMap((group) => {
      const ready = [...group.connections].filter((c) => c.acceptsItems);
      return ready.length === 0 ? [] : [{ group, ready, after: Math.min(...ready.map((c) => c.lastPushed)) }];
    });
    let pages;
    try {
      pages = await inboxItemsAfter(
        this.db,
        wants.map((w) => ({ federationId: w.group.federationId, sessionId: w.group.sessionId, after: w.after })),
        PUSH_PAGE,
      );
    } catch (error) {
      this.logger.error(`reading the inbox of ${wants.length} sessions failed, retrying in ${RETRY_MS} ms: ${(error as Error).message}`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        for (const w of wants) this.markDirty(w.group);
      }, RETRY_MS);
      this.timers.add(timer);
      return;
    }
    wants.forEach((want, i) => {
      const items = pages[i]!;
      const full = items.length === PUSH_PAGE;
      for (const connection of want.ready) {
        connection.deliver(items);
        if (full) connection.afterDrain(() => this.markDirty(want.group));
        else connection.caughtUp();
      }
    });
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import { BoundedLru, FillVersions, type FillTicket } from './bounded-lru';

/** One answer as it is sent again: the bytes, and what its headers are computed from. */
export interface CachedAnswer {
  readonly body: Buffer;
  readonly contentType: string;
  /** strong ETag, quoted */
  readonly etag: string;
  /** served from memory until then (ms since the epoch) */
  readonly expiresAt: number;
  /** end of the signed cache window of the answer (ms since the epoch): HTTP caches may keep it
   * until then; without one they revalidate (no-cache) */
  readonly windowEndsAt?: number;
}

/** The cache key of an answer about a local actor, and of one about the server. */
export const actorKey = (route: 'idcert' | 'key', federationId: string): string => `${route}/actor/${federationId}`;
export const SERVER_KEYS = ['idcert/server', 'key/server'] as const;

/**
 * The gateway's in-memory answers to the hot certificate reads (docs/architecture.md#read-cache):
 * bounded (LRU), each answer until the earliest of its cache window, its certificates' notAfter and
 * P2_READ_CACHE_MAX_AGE_MS. Used only while this gateway's events consumer is positioned
 * (`live`): invalidations come from that consumer and from the replies to this gateway's
 * commands, and one missed would serve a stale answer.
 */
@Injectable()
export class ReadCache {
  private readonly answers: BoundedLru<string, CachedAnswer>;
  private readonly versions = new FillVersions();
  private live = false;
  readonly maxAgeMs: number;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.answers = new BoundedLru(config.readCache.entries);
    this.maxAgeMs = config.readCache.maxAgeMs;
  }

  /** Starts (after the consumer is positioned) or stops (after it left its group) serving. */
  setLive(live: boolean): void {
    this.live = live;
    this.forgetAll();
  }

  /** The answer under `key` if it may still be served now. */
  lookup(key: string, now = this.clock.now().getTime()): CachedAnswer | undefined {
    if (!this.live || this.answers.size === 0) return undefined;
    const answer = this.answers.get(key);
    if (answer === undefined) return undefined;
    if (answer.expiresAt > now) return answer;
    this.answers.delete(key);
    return undefined;
  }

  /** Taken before the read models are read for `key`; undefined when nothing may be stored. */
  beginFill(key: string): FillTicket | undefined {
    return this.live ? this.versions.ticket(key) : undefined;
  }

  /** Stores a filled answer, unless `key` was invalidated since the ticket was taken. */
  store(ticket: FillTicket, answer: CachedAnswer): void {
    if (!this.live || !this.versions.current(ticket) || answer.expiresAt <= this.clock.now().getTime()) return;
    this.answers.set(ticket.key, answer);
  }

  forgetActor(federationId: string): void {
    for (const key of [actorKey('idcert', federationId), actorKey('key', federationId)]) {
      this.versions.bump(key);
      this.answers.delete(key);
    }
  }

  forgetAll(): void {
    this.versions.bumpAll();
    this.answers.clear();
  }
}

import { Injectable } from '@nestjs/common';
import type { Decider } from '@p2/domain';
import { ProcessMetrics, type CacheStats } from '@p2/observability';
import { PostgresEventStore, type NewEvent } from '@p2/event-store';
import { applyProjections, DataKeyVault, orderInboxBeforeAppend } from '@p2/read-models';
import type { CommandContext } from './command-context';
import { StreamMemory } from './stream-memory';

/** How many folded streams a certstore keeps (least recently written first out). */
const FOLDED_STREAMS = 10_000;

/** A stream as a command is decided on it: the state, and the version the append expects. */
export interface LoadedStream<S> {
  readonly streamId: string;
  readonly version: number;
  readonly state: S;
}

/** The command to decide, or a function preparing it from the loaded state: the place for an
 * effect the decision needs (a signature), run only once a pure pre-check of that state passed. */
export type CommandOrPrepare<S, C> = C | ((state: S) => C | Promise<C>);

/** Turns decided events into the events to append: where secret payloads are sealed under their
 * data keys before they reach the log (docs/architecture.md#crypto-shredding). */
export type BeforeAppend<E> = (events: readonly E[]) => readonly NewEvent[];

export interface Decided<S, E> {
  /** the state the command was decided on */
  readonly state: S;
  readonly events: readonly E[];
}

/**
 * The one path every command takes through an aggregate: load (fold the stream) → decide (pure) →
 * append at the loaded version → apply the inline projections, all in the command's transaction.
 * A writer that appended in between makes the append fail with ConcurrencyError, and the command is
 * retried on fresh state. Aggregates whose state is read from a projection instead of folded (it
 * would grow without bound) load it themselves, reading the version in the same statement, and
 * call `decide`.
 */
@Injectable()
export class AggregateStore {
  /** Folded states as of a committed version, so that a load reads only the events after it (an
   * actor's stream grows with every session and rotation). Entries are written only once the
   * transaction that read or wrote them committed (until then they live in the transaction's
   * CommandContext.unit); a stale one costs nothing, as the events after its version are read
   * anyway, whoever appended them. */
  private readonly folded = new StreamMemory<LoadedStream<unknown>>('folded', FOLDED_STREAMS);

  private readonly cacheStats: CacheStats;

  constructor(
    private readonly eventStore: PostgresEventStore,
    private readonly dataKeys: DataKeyVault,
    metrics: ProcessMetrics,
  ) {
    this.cacheStats = metrics.cache('folded-streams');
  }

  async load<S, E>(decider: Pick<Decider<S, never, E>, 'initialState' | 'evolve'>, streamId: string, ctx: CommandContext): Promise<LoadedStream<S>> {
    const cached = this.folded.committedEntry(streamId) as LoadedStream<S> | undefined;
    if (cached) this.cacheStats.hit();
    else this.cacheStats.miss();
    const events = await this.eventStore.readStreamAfter(streamId, cached?.version ?? 0, ctx.db);
    const state = (events as unknown as E[]).reduce(decider.evolve, cached ? cached.state : decider.initialState());
    const loaded = { streamId, version: (cached?.version ?? 0) + events.length, state };
    if (events.length > 0) this.folded.remember(streamId, loaded, ctx);
    return loaded;
  }

  /** Decides on an already loaded stream, appends and projects. A refusal throws DomainError.
   * `beforeAppend` sees the decided events only once the decision passed, so a refused command
   * creates no data key. */
  async decide<S, C, E extends NewEvent>(
    decider: Decider<S, C, E>,
    loaded: LoadedStream<S>,
    command: CommandOrPrepare<S, C>,
    ctx: CommandContext,
    beforeAppend?: BeforeAppend<E>,
  ): Promise<Decided<S, E>> {
    const ready = typeof command === 'function' ? await (command as (state: S) => C | Promise<C>)(loaded.state) : command;
    const events = decider.decide(ready, loaded.state);
    await this.append(loaded, beforeAppend ? beforeAppend(events) : events, ctx);
    if (events.length > 0) {
      const next = { streamId: loaded.streamId, version: loaded.version + events.length, state: events.reduce(decider.evolve, loaded.state) };
      this.folded.remember(loaded.streamId, next, ctx);
    }
    return { state: loaded.state, events };
  }

  /** load → decide → append → project. */
  async handle<S, C, E extends NewEvent>(decider: Decider<S, C, E>, streamId: string, command: CommandOrPrepare<S, C>, ctx: CommandContext): Promise<Decided<S, E>> {
    return this.decide(decider, await this.load(decider, streamId, ctx), command, ctx);
  }

  /**
   * The state of `streamId` as this certstore last loaded or decided it: an earlier command of this
   * transaction's, else the committed one. For aggregates that load their state from a projection
   * (key material): a caller whose statement reads the stream's version equal to the returned one
   * can skip reading the state; any other version, whoever appended, means reading it.
   */
  known<S>(streamId: string, ctx: CommandContext): LoadedStream<S> | undefined {
    return this.folded.latest(streamId, ctx) as LoadedStream<S> | undefined;
  }

  /** Appends events already decided on `loaded` (at its version) and applies the projections.
   * Events that reach the session inbox, and every append to an actor's stream, take the
   * inbox-order lock before their INSERT, so that a rebuild numbers inbox items as the live
   * projection did and a server key rotation never waits for a row of an actor's stream while its
   * writer waits for the lock (docs/architecture.md#rebuild-order). */
  async append<S>(loaded: LoadedStream<S>, events: readonly NewEvent[], ctx: CommandContext): Promise<void> {
    orderInboxBeforeAppend(ctx.db, loaded.streamId, events);
    const appended = this.eventStore.append(ctx.db, loaded.streamId, loaded.version, events, ctx.metadata);
    await applyProjections(ctx.db, appended, this.dataKeys);
  }
}

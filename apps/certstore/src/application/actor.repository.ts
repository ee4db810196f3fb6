import { Injectable } from '@nestjs/common';
import { actorStream } from '@p2/contracts';
import { actorDecider, fold, type ActorCommand, type ActorEvent, type ActorState } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import type { EntityManager } from 'typeorm';
import { applyProjections } from '../projections/projections';
import type { CommandContext } from './command-context';

export interface LoadedActor {
  readonly streamId: string;
  readonly version: number;
  readonly state: ActorState;
}

/** The actor stream's side of every handler: load and fold, then decide, append at the loaded
 * version and update the inline projections, all in the handler's transaction. */
@Injectable()
export class ActorRepository {
  constructor(private readonly eventStore: PostgresEventStore) {}

  async load(manager: EntityManager, federationId: string): Promise<LoadedActor> {
    const streamId = actorStream(federationId);
    const { version, events } = await this.eventStore.readStream(streamId, manager);
    const state = fold(actorDecider, events as unknown as ActorEvent[]);
    return { streamId, version, state };
  }

  /** Decides `command` on the loaded state (a refusal throws DomainError), appends the events
   * with the loaded version as the expected one and applies the projections. */
  async decideAndAppend(ctx: CommandContext, actor: LoadedActor, command: ActorCommand): Promise<readonly ActorEvent[]> {
    const events = actorDecider.decide(command, actor.state);
    const stored = await this.eventStore.append(ctx.manager, actor.streamId, actor.version, events, ctx.metadata);
    await applyProjections(ctx.manager, stored);
    return events;
  }
}

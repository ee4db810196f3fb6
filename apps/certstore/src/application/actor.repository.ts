import { Injectable } from '@nestjs/common';
import { actorStream } from '@p2/contracts';
import { actorDecider, fold, type ActorEvent, type ActorState } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import type { EntityManager } from 'typeorm';

/** Loads an actor's stream and folds it: the state a decision is made on and its version. */
@Injectable()
export class ActorRepository {
  constructor(private readonly eventStore: PostgresEventStore) {}

  async load(manager: EntityManager, federationId: string): Promise<{ streamId: string; version: number; state: ActorState }> {
    const streamId = actorStream(federationId);
    const { version, events } = await this.eventStore.readStream(streamId, manager);
    const state = fold(actorDecider, events as unknown as ActorEvent[]);
    return { streamId, version, state };
  }
}

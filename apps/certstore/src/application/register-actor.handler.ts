import { Injectable } from '@nestjs/common';
import { actorStream, type RegisterActorData, type ResultOf, type RegisterActor } from '@p2/contracts';
import { actorDecider } from '@p2/domain';
import { recordPasswordHash } from '@p2/read-models';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

@Injectable()
export class RegisterActorHandler {
  constructor(private readonly store: AggregateStore) {}

  async execute(data: RegisterActorData, ctx: CommandContext): Promise<ResultOf<RegisterActor>> {
    const { federationId, localName, passwordHash } = data;
    await this.store.handle(actorDecider, actorStream(federationId), { type: 'RegisterActor', federationId, localName, at: ctx.at }, ctx);
    // The hash stays beside the log, never in an event (events are published to Kafka).
    recordPasswordHash(ctx.db, federationId, passwordHash);
    return { type: 'ActorRegistered', federationId };
  }
}

import { Injectable } from '@nestjs/common';
import { actorStream, type RegisterActorData, type ResultOf, type RegisterActor } from '@p2/contracts';
import { actorDecider } from '@p2/domain';
import { recordPasswordHash } from '@p2/read-models';
import { CredentialKeysService } from '../signing/credential-keys.service';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

@Injectable()
export class RegisterActorHandler {
  constructor(
    private readonly store: AggregateStore,
    private readonly credentials: CredentialKeysService,
  ) {}

  async execute(data: RegisterActorData, ctx: CommandContext): Promise<ResultOf<RegisterActor>> {
    const { federationId, localName } = data;
    const passwordHash = this.credentials.openPasswordHash(data.sealedPasswordHash, federationId);
    await this.store.handle(actorDecider, actorStream(federationId), { type: 'RegisterActor', federationId, localName, at: ctx.at }, ctx);
    // The hash stays beside the log, never in an event (events are published to Kafka).
    recordPasswordHash(ctx.db, federationId, passwordHash);
    return { type: 'ActorRegistered', federationId };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { actorStream, type RegisterActorData, type ResultOf, type RegisterActor } from '@p2/contracts';
import { actorDecider } from '@p2/domain';
import { APP_CONFIG } from '@p2/platform';
import { recordPasswordHash } from '@p2/read-models';
import { CredentialKeysService } from '../signing/credential-keys.service';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

@Injectable()
export class RegisterActorHandler {
  /** P2_ADMINS, known here too: the gateway refuses these names first, and this refuses them again
   * should a command for one reach the stream without an operator's mark (docs/protocol.md#administrators). */
  private readonly admins: ReadonlySet<string>;
  private readonly domain: string;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly store: AggregateStore,
    private readonly credentials: CredentialKeysService,
  ) {
    this.admins = new Set(config.admins);
    this.domain = config.domain;
  }

  async execute(data: RegisterActorData, ctx: CommandContext): Promise<ResultOf<RegisterActor>> {
    const { federationId, localName } = data;
    const passwordHash = this.credentials.openPasswordHash(data.sealedPasswordHash, federationId);
    const command = { type: 'RegisterActor', federationId, localName, homeDomain: this.domain, reservedName: this.admins.has(localName), byOperator: data.requestedBy !== undefined, at: ctx.at } as const;
    await this.store.handle(actorDecider, actorStream(federationId), command, ctx);
    // The hash stays beside the log, never in an event (events are published to Kafka).
    recordPasswordHash(ctx.db, federationId, passwordHash);
    return { type: 'ActorRegistered', federationId };
  }
}

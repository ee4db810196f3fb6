import { Injectable } from '@nestjs/common';
import type { CommandResult } from '@p2/contracts';
import { actorDecider } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import { normalizeLocalName, parseFederationId } from '@p2/polyproto';
import { applyProjections } from '../projections/projections';
import { ActorRepository } from './actor.repository';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';

@Injectable()
export class RegisterActorHandler {
  constructor(
    private readonly actors: ActorRepository,
    private readonly eventStore: PostgresEventStore,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const localName = normalizeLocalName(requireString(data, 'localName'));
    const passwordHash = requireString(data, 'passwordHash');
    if (!passwordHash.startsWith('scrypt$')) throw new MalformedCommandError('passwordHash is not a password hash');
    const { streamId, version, state } = await this.actors.load(ctx.manager, federationId);
    const events = actorDecider.decide({ type: 'RegisterActor', federationId, localName, at: ctx.at }, state);
    const stored = await this.eventStore.append(ctx.manager, streamId, version, events, ctx.metadata);
    // The hash stays beside the log, never in an event (events are published to Kafka).
    await ctx.manager.query(`INSERT INTO actor_credentials (federation_id, password_hash) VALUES ($1, $2)`, [federationId, passwordHash]);
    await applyProjections(ctx.manager, stored);
    return { type: 'ActorRegistered', federationId };
  }
}

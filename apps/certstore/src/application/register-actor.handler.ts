import { Injectable } from '@nestjs/common';
import type { CommandResult } from '@p2/contracts';
import { normalizeLocalName, parseFederationId } from '@p2/polyproto';
import { ActorRepository } from './actor.repository';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';

@Injectable()
export class RegisterActorHandler {
  constructor(private readonly actors: ActorRepository) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const localName = normalizeLocalName(requireString(data, 'localName'));
    const passwordHash = requireString(data, 'passwordHash');
    if (!passwordHash.startsWith('scrypt$')) throw new MalformedCommandError('passwordHash is not a password hash');
    const actor = await this.actors.load(ctx.manager, federationId);
    await this.actors.decideAndAppend(ctx, actor, { type: 'RegisterActor', federationId, localName, at: ctx.at });
    // The hash stays beside the log, never in an event (events are published to Kafka).
    await ctx.manager.query(`INSERT INTO actor_credentials (federation_id, password_hash) VALUES ($1, $2)`, [federationId, passwordHash]);
    return { type: 'ActorRegistered', federationId };
  }
}

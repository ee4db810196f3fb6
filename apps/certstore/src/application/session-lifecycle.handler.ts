import { Injectable } from '@nestjs/common';
import type { CommandResult, IdCertInvalidatedData } from '@p2/contracts';
import { parseFederationId, validateSessionId } from '@p2/polyproto';
import { CacheSignerService } from '../signing/cache-signer.service';
import { ActorRepository } from './actor.repository';
import { requireString, requireTokenHash, type CommandContext } from './command-context';

/** Logout (the token dies, the cert stays valid) and session deletion (token dies, cert
 * invalidated, session ID free again). */
@Injectable()
export class SessionLifecycleHandler {
  constructor(
    private readonly actors: ActorRepository,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async logOut(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const sessionId = validateSessionId(requireString(data, 'sessionId'));
    const tokenHash = requireTokenHash(data);
    const actor = await this.actors.load(ctx.manager, federationId);
    await this.actors.decideAndAppend(ctx, actor, { type: 'LogOutSession', federationId, sessionId, tokenHash, at: ctx.at });
    return { type: 'SessionLoggedOut', federationId, sessionId };
  }

  async delete(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const sessionId = validateSessionId(requireString(data, 'sessionId'));
    const actor = await this.actors.load(ctx.manager, federationId);
    const events = await this.actors.decideAndAppend(ctx, actor, { type: 'DeleteSession', federationId, sessionId, at: ctx.at });
    const invalidated = events.find((e) => e.type === 'IdCertInvalidated')!.data as IdCertInvalidatedData;
    await this.cacheSigner.signInvalidation(ctx.manager, invalidated.serial, new Date(invalidated.invalidatedAt));
    return { type: 'SessionDeleted', federationId, sessionId, serial: invalidated.serial };
  }
}

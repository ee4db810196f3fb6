import { Injectable } from '@nestjs/common';
import { actorStream, type DeleteSession, type DeleteSessionData, type IdCertInvalidatedData, type LogOutSession, type LogOutSessionData, type ResultOf } from '@p2/contracts';
import { actorDecider } from '@p2/domain';
import { CacheSignerService } from '../signing/cache-signer.service';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

/** Logout (the token dies, the cert stays valid) and session deletion (token dies, cert
 * invalidated, session ID free again). */
@Injectable()
export class SessionLifecycleHandler {
  constructor(
    private readonly store: AggregateStore,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async logOut(data: LogOutSessionData, ctx: CommandContext): Promise<ResultOf<LogOutSession>> {
    const { federationId, sessionId, tokenHash } = data;
    await this.store.handle(actorDecider, actorStream(federationId), { type: 'LogOutSession', federationId, sessionId, tokenHash, at: ctx.at }, ctx);
    return { type: 'SessionLoggedOut', federationId, sessionId };
  }

  async delete(data: DeleteSessionData, ctx: CommandContext): Promise<ResultOf<DeleteSession>> {
    const { federationId, sessionId, callerTokenHash } = data;
    const command = { type: 'DeleteSession' as const, federationId, sessionId, ...(callerTokenHash == null ? {} : { callerTokenHash }), at: ctx.at };
    const { events } = await this.store.handle(actorDecider, actorStream(federationId), command, ctx);
    const invalidated = events.find((e) => e.type === 'IdCertInvalidated')!.data as IdCertInvalidatedData;
    await this.cacheSigner.signInvalidation(ctx.db, invalidated.serial, new Date(invalidated.invalidatedAt));
    return { type: 'SessionDeleted', federationId, sessionId, serial: invalidated.serial };
  }
}

import { Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from '../http/api-error';
import { SESSION_KEY } from './authenticated-session';
import { SessionLookup } from './session-lookup';
import { hashToken } from './session-token';

const FOREIGN_SESSIONS_ALLOWED = 'p2ForeignSessionsAllowed';

/** Marks a route (or a controller) that sessions of other home servers' actors may use
 * (docs/protocol.md#foreign-sessions); every other authenticated route is for this server's own
 * actors and answers them 403 P2CORE_HOME_ACTORS_ONLY. */
export const ForeignSessionsAllowed = () => SetMetadata(FOREIGN_SESSIONS_ALLOWED, true);

/** `Authorization: Bearer <token>` or a bare token (docs/protocol.md#bearer-tokens). The token is looked up by its
 * SHA-256 hash, never compared as a string; it must belong to a cert that is neither invalidated
 * nor expired. A foreign session passes only on routes marked ForeignSessionsAllowed: refusing by
 * default keeps a new home-only route from being opened to other servers' actors by mistake. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionLookup,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> } & Record<string, unknown>>();
    const header = request.headers.authorization?.trim();
    const token = header?.replace(/^Bearer\s+/i, '').trim();
    if (!token) throw new ApiError(401, ERROR_CODE.unauthorized, 'This route needs a session token (Authorization: Bearer <token>).');
    const session = await this.sessions.byTokenHash(hashToken(token));
    if (!session) throw new ApiError(401, ERROR_CODE.unauthorized, 'The session token is unknown, revoked or belongs to an invalid certificate.');
    if (session.foreign && !this.reflector.getAllAndOverride<boolean>(FOREIGN_SESSIONS_ALLOWED, [context.getHandler(), context.getClass()])) {
      throw new ApiError(
        403,
        ERROR_CODE.homeActorsOnly,
        `This route is for actors of this home server; ${session.federationId} is signed in from another home server.`,
      );
    }
    request[SESSION_KEY] = session;
    return true;
  }
}

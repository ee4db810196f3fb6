import { createParamDecorator, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from '../http/api-error';
import { SESSION_KEY, type AuthenticatedSession } from './authenticated-session';
import { SessionLookup } from './session-lookup';
import { hashToken, SessionTokens } from './session-token';

const FOREIGN_SESSIONS_ALLOWED = 'p2ForeignSessionsAllowed';
const ROTATION_RETRY_ANSWERED = 'p2RotationRetryAnswered';
export const RETRIED_ROTATION_KEY = 'p2RetriedRotation';

/** Marks a route (or a controller) that sessions of other home servers' actors may use
 * (docs/protocol.md#foreign-sessions); every other authenticated route is for this server's own
 * actors and answers them 403 P2CORE_HOME_ACTORS_ONLY. */
export const ForeignSessionsAllowed = () => SetMetadata(FOREIGN_SESSIONS_ALLOWED, true);

/** Marks the routes that rotate the calling session's cert. A rotation ends the token that asked
 * for it, so the retry of one that was applied (its answer lost) carries a dead token; on these
 * routes such a retry passes when the rotation's own token, derived from the dead token and the
 * Idempotency-Key (SessionTokens.rotationTokenFor), is live, and the route answers the rotation's
 * outcome (docs/protocol.md#idempotency-key). Any other dead token stays 401. */
export const RotationRetryAnswered = () => SetMetadata(ROTATION_RETRY_ANSWERED, true);

/** A request let through as the retry of a rotation that was applied: the token that rotation gave. */
export interface RetriedRotation {
  readonly token: string;
}

/** The retried rotation of this request, if BearerAuthGuard let it through as one. */
export const RetriedRotationOf = createParamDecorator((_: unknown, ctx: ExecutionContext): RetriedRotation | undefined => {
  const request = ctx.switchToHttp().getRequest<Record<string, unknown>>();
  return request[RETRIED_ROTATION_KEY] as RetriedRotation | undefined;
});

/** `Authorization: Bearer <token>` or a bare token (docs/protocol.md#bearer-tokens). The token is looked up by its
 * SHA-256 hash, never compared as a string; it must belong to a cert that is neither invalidated
 * nor expired. A foreign session passes only on routes marked ForeignSessionsAllowed: refusing by
 * default keeps a new home-only route from being opened to other servers' actors by mistake. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly sessions: SessionLookup,
    private readonly reflector: Reflector,
    private readonly tokens: SessionTokens,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> } & Record<string, unknown>>();
    const header = request.headers.authorization?.trim();
    const token = header?.replace(/^Bearer\s+/i, '').trim();
    if (!token) throw new ApiError(401, ERROR_CODE.unauthorized, 'This route needs a session token (Authorization: Bearer <token>).');
    const session = (await this.sessions.byTokenHash(hashToken(token))) ?? (await this.retriedRotation(context, request, token));
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

  /** The session of the rotation this request retries, when `token` is dead because that rotation
   * ended it: only a request holding both the dead token and the rotation's Idempotency-Key can
   * name the token the rotation gave, and only that token being live proves it was applied. */
  private async retriedRotation(
    context: ExecutionContext,
    request: { headers: Record<string, string | undefined> } & Record<string, unknown>,
    token: string,
  ): Promise<AuthenticatedSession | undefined> {
    const idempotencyKey = request.headers['idempotency-key'];
    if (!idempotencyKey || idempotencyKey.length > 200) return undefined;
    if (!this.reflector.getAllAndOverride<boolean>(ROTATION_RETRY_ANSWERED, [context.getHandler(), context.getClass()])) return undefined;
    const successor = this.tokens.rotationTokenFor(hashToken(token), idempotencyKey);
    const session = await this.sessions.byTokenHash(hashToken(successor));
    if (!session || session.foreign) return undefined;
    request[RETRIED_ROTATION_KEY] = { token: successor } satisfies RetriedRotation;
    return session;
  }
}

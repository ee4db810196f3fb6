import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { ERROR_CODE } from '@p2/contracts';
import { ApiError } from '../http/api-error';
import { SESSION_KEY } from './authenticated-session';
import { SessionLookup } from './session-lookup';
import { hashToken } from './session-token';

/** `Authorization: Bearer <token>` or a bare token (profile §1). The token is looked up by its
 * SHA-256 hash, never compared as a string; it must belong to a cert that is neither invalidated
 * nor expired. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(private readonly sessions: SessionLookup) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> } & Record<string, unknown>>();
    const header = request.headers.authorization?.trim();
    const token = header?.replace(/^Bearer\s+/i, '').trim();
    if (!token) throw new ApiError(401, ERROR_CODE.unauthorized, 'This route needs a session token (Authorization: Bearer <token>).');
    const session = await this.sessions.byTokenHash(hashToken(token));
    if (!session) throw new ApiError(401, ERROR_CODE.unauthorized, 'The session token is unknown, revoked or belongs to an invalid certificate.');
    request[SESSION_KEY] = session;
    return true;
  }
}

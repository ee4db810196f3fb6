import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** Who is calling, as established by BearerAuthGuard from the token's hash. */
export interface AuthenticatedSession {
  readonly federationId: string;
  readonly sessionId: string;
  /** the session's current cert: one this server issued, or for a foreign session its home server's */
  readonly certSerial: string;
  /** when that cert stops being valid */
  readonly certNotAfter: Date;
  readonly tokenHash: string;
  /** a session of another home server's actor (docs/protocol.md#foreign-sessions) */
  readonly foreign: boolean;
}

export const SESSION_KEY = 'p2Session';

export const CurrentSession = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthenticatedSession => {
  const request = ctx.switchToHttp().getRequest<Record<string, unknown>>();
  return request[SESSION_KEY] as AuthenticatedSession;
});

import { createParamDecorator, type ExecutionContext } from '@nestjs/common';

/** Who is calling, as established by BearerAuthGuard from the token's hash. */
export interface AuthenticatedSession {
  readonly federationId: string;
  readonly sessionId: string;
  readonly certSerial: string;
  readonly tokenHash: string;
}

export const SESSION_KEY = 'p2Session';

export const CurrentSession = createParamDecorator((_: unknown, ctx: ExecutionContext): AuthenticatedSession => {
  const request = ctx.switchToHttp().getRequest<Record<string, unknown>>();
  return request[SESSION_KEY] as AuthenticatedSession;
});

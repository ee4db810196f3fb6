import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE } from '@p2/contracts';
import { AuditLog } from '@p2/observability';
import { APP_CONFIG } from '@p2/platform';
import { passwordHash } from '@p2/read-models';
import { ApiError } from '../http/api-error';
import { PasswordLockout } from '../rate-limits/password-lockout';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ReadDatabase } from '../read-models/read-database';
import { SESSION_KEY, type AuthenticatedSession } from './authenticated-session';
import { verifyPassword } from './password-hasher';

export const SENSITIVE_SOLUTION_HEADER = 'x-p2-sensitive-solution';

/** Sensitive actions (docs/protocol.md#sensitive-actions) carry the actor's password in X-P2-Sensitive-Solution.
 * Runs after BearerAuthGuard. Missing → 401, wrong → 403. */
@Injectable()
export class SensitiveActionGuard implements CanActivate {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly db: ReadDatabase,
    private readonly audit: AuditLog,
    private readonly limits: RateLimiter,
    private readonly lockout: PasswordLockout,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; ip?: string } & Record<string, unknown>>();
    const solution = request.headers[SENSITIVE_SOLUTION_HEADER];
    const session = request[SESSION_KEY] as AuthenticatedSession;
    if (!solution) {
      this.audit.record({ kind: 'sensitive.failed', actor: session.federationId, reason: 'solution-missing', details: { sessionId: session.sessionId } });
      throw new ApiError(401, ERROR_CODE.sensitiveSolutionRequired, 'This is a sensitive action: send the password in the X-P2-Sensitive-Solution header.');
    }
    this.limits.check('sensitive', request.ip, session.federationId);
    const check = this.lockout.begin(session.federationId);
    try {
      if (!(await verifyPassword(solution, await passwordHash(this.db.prepared, session.federationId), this.config.passwordScryptCost))) {
        check.wrong();
        this.audit.record({ kind: 'sensitive.failed', actor: session.federationId, reason: 'solution-invalid', details: { sessionId: session.sessionId } });
        throw new ApiError(403, ERROR_CODE.sensitiveSolutionInvalid, 'The X-P2-Sensitive-Solution header does not match.');
      }
      check.right();
    } finally {
      check.end();
    }
    return true;
  }
}

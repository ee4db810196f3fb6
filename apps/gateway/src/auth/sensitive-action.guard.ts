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
    this.lockout.assertNotLockedOut(session.federationId);
    this.limits.check('sensitive', request.ip, session.federationId);
    const check = this.lockout.begin(session.federationId);
    try {
      if (!(await this.matches(solution, await passwordHash(this.db.prepared, session.federationId)))) {
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

  /** Whether one reading of the header is the password: its UTF-8 reading first, then the
   * byte-per-character one, which is tried only when it differs (a second scrypt, never for ASCII). */
  private async matches(header: string, stored: string | undefined): Promise<boolean> {
    for (const candidate of solutionReadings(header)) {
      if (await verifyPassword(candidate, stored, this.config.passwordScryptCost)) return true;
    }
    return false;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The passwords a header value may stand for. Node reads header bytes as Latin-1, one character
 * per byte, while the password was registered from a UTF-8 JSON body: a password with a character
 * beyond Latin-1 (Cyrillic, CJK, an emoji) could only arrive as UTF-8 bytes, and those never
 * matched, so such an actor could not delete a session or rotate a cert at all. Browsers and Node's
 * client send Latin-1 characters as single bytes, which are not valid UTF-8 and keep their reading.
 */
export function solutionReadings(header: string): string[] {
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(header)) return [header];
  let utf8: string;
  try {
    utf8 = UTF8.decode(Buffer.from(header, 'latin1'));
  } catch {
    return [header];
  }
  return utf8 === header ? [header] : [utf8, header];
}

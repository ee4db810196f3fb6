import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE } from '@p2/contracts';
import { AuditLog } from '@p2/observability';
import { APP_CONFIG } from '@p2/platform';
import { ApiError } from '../http/api-error';
import { SESSION_KEY, type AuthenticatedSession } from './authenticated-session';

/** Server administration: the calling actor is one of P2_ADMINS. Runs after BearerAuthGuard. */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly admins: ReadonlySet<string>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly audit: AuditLog,
  ) {
    this.admins = new Set(config.admins.map((name) => `${name}@${config.domain}`));
  }

  canActivate(context: ExecutionContext): boolean {
    const session = context.switchToHttp().getRequest<Record<string, unknown>>()[SESSION_KEY] as AuthenticatedSession;
    if (!this.admins.has(session.federationId)) {
      this.audit.record({ kind: 'admin.refused', actor: session.federationId, reason: 'not-administrator' });
      throw new ApiError(403, ERROR_CODE.notAdministrator, 'Only an administrator of this home server may do this.');
    }
    return true;
  }
}

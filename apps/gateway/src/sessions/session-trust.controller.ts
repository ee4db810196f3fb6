import { Body, Controller, Headers, HttpCode, Inject, Ip, Post } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { AuditLog } from '@p2/observability';
import { normalizeLocalName } from '@p2/polyproto';
import { passwordHash } from '@p2/read-models';
import { CredentialSealer } from '../auth/credential-sealer';
import { hashPassword, needsRehash, verifyPassword } from '../auth/password-hasher';
import { hashToken, SessionTokens } from '../auth/session-token';
import { APP_CONFIG } from '@p2/platform';
import { ApiError } from '../http/api-error';
import { csrFromRequest } from '../http/csr-field';
import { CommandSender } from '../messaging/command-sender.service';
import { PasswordLockout } from '../rate-limits/password-lockout';
import { RateLimiter } from '../rate-limits/rate-limiter';
import { ReadDatabase } from '../read-models/read-database';
import { TrustRequestDto } from './sessions.request.dto';
import { ApiRateLimited, ApiSendsCommand } from '../http/api-responses';

const invalidCredentials = () => new ApiError(401, ERROR_CODE.invalidCredentials, 'The actor name or the password is wrong.');

@ApiTags('sessions')
@Controller('.p2/core/v1/session')
export class SessionTrustController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly commands: CommandSender,
    private readonly db: ReadDatabase,
    private readonly tokens: SessionTokens,
    private readonly audit: AuditLog,
    private readonly limits: RateLimiter,
    private readonly lockout: PasswordLockout,
    private readonly sealer: CredentialSealer,
  ) {}

  @Post('trust')
  @HttpCode(201)
  @ApiOperation({ summary: 'Open a new session: password + ID-CSR → signed ID-Cert and a session token.' })
  @ApiResponse({ status: 201, schema: { example: { id_cert: '-----BEGIN CERTIFICATE-----…', token: 'base64url' } } })
  @ApiResponse({ status: 400, description: 'P2CORE_INVALID_CSR (names the field and rule) or P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 401, description: 'P2CORE_INVALID_CREDENTIALS' })
  @ApiResponse({ status: 409, description: 'P2CORE_SESSION_ID_IN_USE' })
  @ApiRateLimited('too many sign-ins from the address or for the actor, or the actor is locked out after wrong passwords (checks in flight count as wrong)')
  @ApiSendsCommand()
  async trust(@Body() request: TrustRequestDto, @Ip() address: string, @Headers('idempotency-key') idempotencyKey?: string): Promise<{ id_cert: string; token: string }> {
    const { actor_name: actorName, csr: csrField } = request;
    const password = request.auth_payload.password;
    let localName: string;
    try {
      localName = normalizeLocalName(actorName);
    } catch {
      this.limits.check('session', address);
      // the name is not recorded: a password typed into the wrong field would end up in the trail
      this.audit.record({ kind: 'login.failed', reason: 'invalid-actor-name' });
      throw invalidCredentials();
    }
    const federationId = `${localName}@${this.config.domain}`;
    this.lockout.assertNotLockedOut(federationId);
    this.limits.check('session', address, federationId);
    const cost = this.config.passwordScryptCost;
    const { stored, csr } = await this.checkPassword(federationId, password, () => csrFromRequest({ csr: csrField }, { domain: this.config.domain, actorLocalName: localName }));

    if (!csr.ok) throw csr.error;
    const csrDer = csr.value.der;
    const commandId = this.commands.commandId('session/trust', federationId, idempotencyKey);
    const token = this.tokens.tokenFor('session/trust', federationId, idempotencyKey);
    // a hash of weaker parameters is replaced now, while the password is at hand (docs/architecture.md#password-hashing)
    const rehashed = needsRehash(stored, cost) ? { sealedPasswordRehash: await this.sealer.sealPasswordHash(await hashPassword(password, cost), federationId) } : {};
    const result = await this.commands.send(
      newCommand(
        'OpenSession',
        { federationId, csr: Buffer.from(csrDer).toString('base64'), tokenHash: hashToken(token), ...rehashed },
        commandId,
      ),
    );
    return { id_cert: result.idCertPem, token };
  }

  /** The actor's stored hash once `password` matched it, and the outcome of `parseCsr`, run while
   * scrypt does; 401 when the password is wrong or the actor unknown, counted toward the lock-out. */
  private async checkPassword<T>(federationId: string, password: string, parseCsr: () => T): Promise<{ stored: string; csr: Attempt<T> }> {
    // before the password is checked: a locked-out actor costs no scrypt
    const check = this.lockout.begin(federationId);
    try {
      const stored = await passwordHash(this.db.prepared, federationId);
      // an unknown actor is checked against a dummy hash, so that the time of the 401 does not tell
      // whether the name exists. scrypt runs on libuv's pool; the CSR's first pass runs on this thread
      // meanwhile, and its verdict is given only once the password matched (a wrong password is always 401, never 400)
      const passwordMatches = verifyPassword(password, stored, this.config.passwordScryptCost);
      const csr = attempt(parseCsr);
      if (!(await passwordMatches) || stored === undefined) {
        check.wrong();
        // a name that is no actor's is not recorded either: it may be a password typed into the
        // name field, and the entry is then keyed by the client address
        this.audit.record(stored === undefined ? { kind: 'login.failed', reason: 'unknown-actor' } : { kind: 'login.failed', actor: federationId, reason: 'wrong-password' });
        throw invalidCredentials();
      }
      check.right();
      return { stored, csr };
    } finally {
      check.end();
    }
  }
}

type Attempt<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** The outcome of `run`, its exception included, to be looked at later. */
function attempt<T>(run: () => T): Attempt<T> {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, error };
  }
}

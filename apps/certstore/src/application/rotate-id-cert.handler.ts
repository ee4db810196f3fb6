import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, type CommandResult } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { parseFederationId, readIdCsr, validateSessionId } from '@p2/polyproto';
import { APP_CONFIG } from '../config/config.tokens';
import { CacheSignerService } from '../signing/cache-signer.service';
import { IdCertIssuer } from '../signing/id-cert-issuer.service';
import { ActorRepository } from './actor.repository';
import { requireString, requireTokenHash, type CommandContext } from './command-context';

/** R1: a session replaces its own ID-Cert. The new cert keeps the session ID; the old cert is
 * invalidated at the same instant and its token dies; the new token comes with the new cert. */
@Injectable()
export class RotateIdCertHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly actors: ActorRepository,
    private readonly issuer: IdCertIssuer,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId'));
    const sessionId = validateSessionId(requireString(data, 'sessionId'));
    const currentSerial = requireString(data, 'currentSerial');
    const tokenHash = requireTokenHash(data);
    const csr = readIdCsr(Buffer.from(requireString(data, 'csr'), 'base64'), {
      domain: this.config.domain,
      actorLocalName: federationId.localName,
    });
    if (csr.sessionId !== sessionId) {
      throw new DomainError(
        ERROR_CODE.sessionMismatch,
        `The ID-CSR is for session "${csr.sessionId}", but the token belongs to session "${sessionId}".`,
      );
    }
    const fid = federationId.toString();
    const actor = await this.actors.load(ctx.manager, fid);
    const cert = await this.issuer.issue(ctx.manager, csr, ctx.at);
    await this.actors.decideAndAppend(ctx, actor, { type: 'RotateIdCert', federationId: fid, sessionId, currentSerial, tokenHash, cert, at: ctx.at });
    await this.cacheSigner.signInvalidation(ctx.manager, currentSerial, ctx.at);
    await this.cacheSigner.sign(ctx.manager, { serial: cert.serial, pem: cert.certPem }, ctx.at);
    return { type: 'IdCertRotated', federationId: fid, sessionId, serial: cert.serial, idCertPem: cert.certPem };
  }
}

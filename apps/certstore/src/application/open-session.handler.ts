import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import type { CommandResult } from '@p2/contracts';
import { domainErrors } from '@p2/domain';
import { parseFederationId, readIdCsr } from '@p2/polyproto';
import { APP_CONFIG } from '../config/config.tokens';
import { CacheSignerService } from '../signing/cache-signer.service';
import { IdCertIssuer } from '../signing/id-cert-issuer.service';
import { ActorRepository } from './actor.repository';
import { requireTokenHash, requireString, type CommandContext } from './command-context';

/** Opens a session: the CSR is checked again here (the gateway's check is a first pass; this is
 * the only writer), the decision is made on the actor's stream, then the cert is signed. */
@Injectable()
export class OpenSessionHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly actors: ActorRepository,
    private readonly issuer: IdCertIssuer,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId'));
    const tokenHash = requireTokenHash(data);
    const csr = readIdCsr(Buffer.from(requireString(data, 'csr'), 'base64'), {
      domain: this.config.domain,
      actorLocalName: federationId.localName,
    });
    const fid = federationId.toString();
    const actor = await this.actors.load(ctx.manager, fid);
    if (!actor.state.registered) throw domainErrors.actorNotFound(fid);
    const cert = await this.issuer.issue(ctx.manager, csr, ctx.at);
    await this.actors.decideAndAppend(ctx, actor, { type: 'OpenSession', federationId: fid, sessionId: csr.sessionId, tokenHash, at: ctx.at, cert });
    await this.cacheSigner.sign(ctx.manager, { serial: cert.serial, pem: cert.certPem }, ctx.at);
    return { type: 'SessionOpened', federationId: fid, sessionId: csr.sessionId, serial: cert.serial, idCertPem: cert.certPem };
  }
}

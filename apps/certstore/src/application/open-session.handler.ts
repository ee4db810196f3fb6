import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import type { CommandResult } from '@p2/contracts';
import { domainErrors } from '@p2/domain';
import { actorCertValidity, issueActorIdCert, parseFederationId, randomSerial, readIdCsr } from '@p2/polyproto';
import { APP_CONFIG } from '../config/config.tokens';
import { CacheSignerService } from '../signing/cache-signer.service';
import { ServerKeyService } from '../signing/server-key.service';
import { ActorRepository } from './actor.repository';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';

/** Opens a session: the CSR is checked again here (the gateway's check is a first pass; this is
 * the only writer), the decision is made on the actor's stream, then the cert is signed. */
@Injectable()
export class OpenSessionHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly actors: ActorRepository,
    private readonly serverKey: ServerKeyService,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId'));
    const tokenHash = requireString(data, 'tokenHash');
    if (!/^[0-9a-f]{64}$/.test(tokenHash)) throw new MalformedCommandError('tokenHash must be 64 hex digits');
    const csr = readIdCsr(Buffer.from(requireString(data, 'csr'), 'base64'), {
      domain: this.config.domain,
      actorLocalName: federationId.localName,
    });
    const fid = federationId.toString();
    const actor = await this.actors.load(ctx.manager, fid);
    if (!actor.state.registered) throw domainErrors.actorNotFound(fid);

    const root = this.serverKey.root;
    const { notBefore, notAfter } = actorCertValidity({
      now: ctx.at,
      lifetimeDays: this.config.idCertLifetimeDays,
      rootNotBefore: root.notBefore,
      rootNotAfter: root.notAfter,
    });
    const cert = issueActorIdCert({
      csr,
      issuerSubjectDer: root.subjectDer,
      serial: randomSerial(),
      notBefore,
      notAfter,
      signer: root.signer,
    });
    await this.actors.decideAndAppend(
      ctx,
      actor,
      {
        type: 'OpenSession',
        federationId: fid,
        sessionId: csr.sessionId,
        tokenHash,
        at: ctx.at,
        cert: {
          serial: cert.serial.toString(),
          certPem: cert.pem,
          publicKey: Buffer.from(csr.publicKey).toString('base64'),
          notBefore: notBefore.toISOString(),
          notAfter: notAfter.toISOString(),
          rootSerial: root.serial,
        },
      },
    );
    await this.cacheSigner.sign(ctx.manager, { serial: cert.serial.toString(), pem: cert.pem }, ctx.at);
    return { type: 'SessionOpened', federationId: fid, sessionId: csr.sessionId, serial: cert.serial.toString(), idCertPem: cert.pem };
  }
}

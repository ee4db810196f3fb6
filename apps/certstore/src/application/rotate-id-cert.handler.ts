import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, actorStream, type ResultOf, type RotateIdCert, type RotateIdCertData } from '@p2/contracts';
import { DomainError, actorDecider, checkRotateIdCert } from '@p2/domain';
import { parseFederationId, readIdCsr } from '@p2/polyproto';
import { APP_CONFIG } from '@p2/platform';
import { idCertPemLater } from '@p2/read-models';
import { CacheSignerService } from '../signing/cache-signer.service';
import { IdCertIssuer, type Issued } from '../signing/id-cert-issuer.service';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

/** A session replaces its own ID-Cert (docs/protocol.md#cert-rotation). The new cert keeps the session ID; the old cert is
 * invalidated at the same instant and its token dies; the new token comes with the new cert. The
 * rotation is decided on the actor's stream before anything is signed. */
@Injectable()
export class RotateIdCertHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: AggregateStore,
    private readonly issuer: IdCertIssuer,
    private readonly cacheSigner: CacheSignerService,
  ) {}

  async execute(data: RotateIdCertData, ctx: CommandContext): Promise<ResultOf<RotateIdCert>> {
    const { federationId, sessionId, currentSerial, tokenHash } = data;
    const csr = readIdCsr(Buffer.from(data.csr, 'base64'), { domain: this.config.domain, actorLocalName: parseFederationId(federationId).localName });
    if (csr.sessionId !== sessionId) {
      throw new DomainError(ERROR_CODE.sessionMismatch, `The ID-CSR is for session "${csr.sessionId}", but the token belongs to session "${sessionId}".`);
    }
    // the root's share lock and serial, and the PEM of the cert this invalidates (its cache
    // information is signed anew), travel with the stream read
    const root = this.issuer.rootLater(ctx.db);
    const invalidatedPem = idCertPemLater(ctx.db, currentSerial);
    let issued!: Issued;
    await this.store.handle(
      actorDecider,
      actorStream(federationId),
      async (state) => {
        const request = { type: 'RotateIdCert', federationId, sessionId, currentSerial, tokenHash, at: ctx.at } as const;
        checkRotateIdCert(state, request);
        issued = await this.issuer.issue(root, csr, ctx.at, state.sessions[sessionId]?.notBefore);
        return { ...request, cert: issued.cert };
      },
      ctx,
    );
    const { cert, root: signedUnder } = issued;
    await this.cacheSigner.signInvalidation(ctx.db, currentSerial, ctx.at, signedUnder.signer, invalidatedPem);
    await this.cacheSigner.sign(ctx.db, { serial: cert.serial, pem: cert.certPem }, ctx.at, signedUnder.signer);
    return { type: 'IdCertRotated', federationId, sessionId, serial: cert.serial, idCertPem: cert.certPem };
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { actorStream, type OpenSession, type OpenSessionData, type ResultOf } from '@p2/contracts';
import { actorDecider, checkOpenSession } from '@p2/domain';
import { parseFederationId, readIdCsr } from '@p2/polyproto';
import { replacePasswordHash } from '@p2/read-models';
import { APP_CONFIG } from '@p2/platform';
import { CacheSignerService } from '../signing/cache-signer.service';
import { CredentialKeysService } from '../signing/credential-keys.service';
import { IdCertIssuer, type Issued } from '../signing/id-cert-issuer.service';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

/** Opens a session: the CSR is checked again here (the gateway's check is a first pass; this is
 * the only writer), the actor's stream is asked whether the session may open, and only then is
 * the cert signed and the decision recorded. */
@Injectable()
export class OpenSessionHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: AggregateStore,
    private readonly issuer: IdCertIssuer,
    private readonly cacheSigner: CacheSignerService,
    private readonly credentials: CredentialKeysService,
  ) {}

  async execute(data: OpenSessionData, ctx: CommandContext): Promise<ResultOf<OpenSession>> {
    const { federationId, tokenHash } = data;
    const csr = readIdCsr(Buffer.from(data.csr, 'base64'), { domain: this.config.domain, actorLocalName: parseFederationId(federationId).localName });
    // the root's share lock and serial travel with the stream read
    const root = this.issuer.rootLater(ctx.db);
    let issued!: Issued;
    await this.store.handle(
      actorDecider,
      actorStream(federationId),
      async (state) => {
        const request = { type: 'OpenSession', federationId, sessionId: csr.sessionId, tokenHash, at: ctx.at } as const;
        checkOpenSession(state, request);
        issued = await this.issuer.issue(root, csr, ctx.at, state.sessions[csr.sessionId]?.notBefore);
        return { ...request, cert: issued.cert };
      },
      ctx,
    );
    if (data.sealedPasswordRehash !== undefined) replacePasswordHash(ctx.db, federationId, this.credentials.openPasswordHash(data.sealedPasswordRehash, federationId));
    const { cert, root: signedUnder } = issued;
    await this.cacheSigner.sign(ctx.db, { serial: cert.serial, pem: cert.certPem }, ctx.at, signedUnder.signer);
    return { type: 'SessionOpened', federationId, sessionId: csr.sessionId, serial: cert.serial, idCertPem: cert.certPem };
  }
}

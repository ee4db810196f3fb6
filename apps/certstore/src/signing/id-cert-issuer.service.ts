import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import type { IssuedIdCert } from '@p2/domain';
import { actorCertValidity, issueActorIdCert, randomSerial, type IdCsr } from '@p2/polyproto';
import { APP_CONFIG } from '@p2/platform';
import { ServerKeyService, type ActiveRoot } from './server-key.service';
import type { Later, Sql } from '@p2/event-store';

/** A signed actor cert and the root that signed it (its key also signs the cache information). */
export interface Issued {
  readonly cert: IssuedIdCert;
  readonly root: ActiveRoot;
}

/** Signs an actor's checked ID-CSR under the root active in the caller's transaction
 * (docs/protocol.md#cert-validity: validity now − 60 s … min(now + lifetime, root notAfter), a fresh server-wide serial). */
@Injectable()
export class IdCertIssuer {
  private signed = 0;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly serverKey: ServerKeyService,
  ) {}

  /** How many actor certificates this process has signed (committed or not): a signature is the
   * expensive step, and a refused command must not cost one. */
  get signedCount(): number {
    return this.signed;
  }

  /** The active root, share-locked in the caller's transaction, read with the caller's next
   * statement: a handler asks for it before it loads its stream, and `issue` signs under it. */
  rootLater(db: Sql): Later<ActiveRoot> {
    return this.serverKey.activeRootLater(db);
  }

  /** `follows`: the notBefore of the session's previous cert, which the new one must start after. */
  async issue(rootLater: Later<ActiveRoot>, csr: IdCsr, at: Date, follows?: string): Promise<Issued> {
    const root = await rootLater.get();
    const { notBefore, notAfter } = actorCertValidity({
      now: at,
      lifetimeDays: this.config.idCertLifetimeDays,
      rootNotBefore: root.notBefore,
      rootNotAfter: root.notAfter,
      ...(follows === undefined ? {} : { follows: new Date(follows) }),
    });
    const cert = issueActorIdCert({
      csr,
      issuerSubjectDer: root.subjectDer,
      serial: randomSerial(),
      notBefore,
      notAfter,
      signer: root.signer,
    });
    this.signed++;
    return {
      cert: {
        serial: cert.serial.toString(),
        certPem: cert.pem,
        publicKey: Buffer.from(csr.publicKey).toString('base64'),
        notBefore: notBefore.toISOString(),
        notAfter: notAfter.toISOString(),
        rootSerial: root.serial,
      },
      root,
    };
  }
}

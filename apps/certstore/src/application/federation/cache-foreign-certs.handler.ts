import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import {
  ERROR_CODE,
  foreignServerStream,
  foreignSessionStream,
  type CacheForeignIdCert,
  type CacheForeignIdCertData,
  type CacheForeignServerCert,
  type CacheForeignServerCertData,
  type ErrorCode,
  type ResultOf,
} from '@p2/contracts';
import { currentForeignRoot, DomainError, foreignServerDecider, foreignSessionDecider, type ForeignServerState } from '@p2/domain';
import {
  foreignCacheUntil,
  PolyprotoError,
  readIdCert,
  toPem,
  verifyCacheInfo,
  verifyForeignActorCert,
  verifyForeignRoot,
  type IdCert,
} from '@p2/polyproto';
import { AggregateStore, type LoadedStream } from '../aggregate.store';
import type { CommandContext } from '../command-context';

/** Runs a check of @p2/polyproto, turning its refusal into a DomainError with `code`. */
export function refusingWith<T>(code: ErrorCode, what: string, check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (error instanceof PolyprotoError) throw new DomainError(code, `${what}: ${error.message}`);
    throw error;
  }
}

/**
 * What a gateway learnt from another home server (docs/protocol.md#federation-cache), checked
 * again here before it is recorded — everything that needs no network: the root's self-signature,
 * domain and validity; the cert's signature with the recorded root; the home server's cache
 * signatures with its current root key. The cache bound and the clock are this certstore's.
 */
@Injectable()
export class CacheForeignCertsHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly store: AggregateStore,
  ) {}

  async cacheServerCert(data: CacheForeignServerCertData, ctx: CommandContext): Promise<ResultOf<CacheForeignServerCert>> {
    const { domain, current, cache, httpFreshSeconds } = data;
    const root = refusingWith(ERROR_CODE.notFederated, `The root published for ${domain} was refused`, () =>
      verifyForeignRoot(Buffer.from(data.cert, 'base64'), domain, ctx.at),
    );
    const pem = toPem(root.der, 'CERTIFICATE');
    const loaded = await this.store.load(foreignServerDecider, foreignServerStream(domain), ctx);
    if (cache) {
      // a current root's window is signed by its own key; a past root's by the current key
      const key = current ? root.publicKey : currentRootKey(loaded.state, domain);
      refusingWith(ERROR_CODE.notFederated, `The cache information of the root of ${domain} was refused`, () => verifyCacheInfo(pem, cache, key, ctx.at));
    }
    const cacheUntil = foreignCacheUntil({
      fetchedAt: ctx.at,
      maxSeconds: this.config.federation.cacheMaxSeconds,
      cacheNotValidAfter: cache?.notValidAfter,
      httpFreshSeconds,
      notAfter: root.notAfter,
    });
    await this.store.decide(
      foreignServerDecider,
      loaded,
      {
        type: 'CacheForeignServerCert',
        domain,
        root: {
          serial: root.serial.toString(),
          certPem: pem,
          publicKey: Buffer.from(root.publicKey).toString('base64'),
          notBefore: root.notBefore.toISOString(),
          notAfter: root.notAfter.toISOString(),
        },
        current,
        ...(cache ? { cache: { ...cache } } : {}),
        cacheUntil,
        at: ctx.at,
      },
      ctx,
    );
    return { type: 'ForeignServerCertCached', domain, serial: root.serial.toString() };
  }

  async cacheIdCert(data: CacheForeignIdCertData, ctx: CommandContext): Promise<ResultOf<CacheForeignIdCert>> {
    const { federationId, sessionId, rootSerial, cache, httpFreshSeconds } = data;
    const cert = refusingWith(ERROR_CODE.malformedCert, 'The ID-Cert was refused', () => readIdCert(Buffer.from(data.cert, 'base64'), { target: 'actor' }));
    if (cert.federationId?.toString() !== federationId || cert.sessionId !== sessionId) {
      throw new DomainError(ERROR_CODE.malformedRequest, `The ID-Cert names ${cert.federationId?.toString()} "${cert.sessionId}", not the command's session.`);
    }
    const domain = cert.federationId.domain;
    const server = await this.store.load(foreignServerDecider, foreignServerStream(domain), ctx);
    const root = recordedRoot(server, domain, rootSerial, ctx.at);
    refusingWith(ERROR_CODE.malformedCert, `The ID-Cert does not verify with the root ${rootSerial} of ${domain}`, () => verifyForeignActorCertExceptTime(cert, root));
    refusingWith(ERROR_CODE.certInvalidated, 'The ID-Cert cannot be used now', () => verifyForeignActorCert(cert, root, ctx.at));
    const pem = toPem(cert.der, 'CERTIFICATE');
    if (cache) {
      const key = currentRootKey(server.state, domain);
      refusingWith(ERROR_CODE.notFederated, `The cache information of ${domain} for the ID-Cert was refused`, () => verifyCacheInfo(pem, cache, key, ctx.at));
    }
    // not listed (no cache then, by the contract): the decider records it as invalidated now
    const notListed = data.listed === false;
    const invalidatedAt = data.invalidated && !notListed ? (cache?.invalidatedAt !== undefined ? new Date(cache.invalidatedAt * 1000) : ctx.at) : undefined;
    const cacheUntil = foreignCacheUntil({
      fetchedAt: ctx.at,
      maxSeconds: this.config.federation.cacheMaxSeconds,
      cacheNotValidAfter: cache?.notValidAfter,
      httpFreshSeconds,
      notAfter: cert.notAfter,
    });
    const serial = cert.serial.toString();
    await this.store.handle(
      foreignSessionDecider,
      foreignSessionStream(federationId, sessionId),
      {
        type: 'CacheForeignIdCert',
        federationId,
        sessionId,
        cert: {
          issuerDomain: domain,
          serial,
          certPem: pem,
          publicKey: Buffer.from(cert.publicKey).toString('base64'),
          notBefore: cert.notBefore.toISOString(),
          notAfter: cert.notAfter.toISOString(),
          rootSerial,
        },
        ...(invalidatedAt === undefined ? {} : { invalidatedAt }),
        ...(notListed ? { notListed: true as const } : {}),
        ...(cache ? { cache: { ...cache } } : {}),
        cacheUntil,
        at: ctx.at,
      },
      ctx,
    );
    return { type: 'ForeignIdCertCached', federationId, sessionId, serial, invalidated: data.invalidated, checkedAt: ctx.at.toISOString() };
  }
}

function currentRootKey(state: ForeignServerState, domain: string): Uint8Array {
  const current = currentForeignRoot(state);
  if (!current) throw new DomainError(ERROR_CODE.notFederated, `The current root of ${domain} is not known here yet.`);
  return Buffer.from(current.publicKey, 'base64');
}

/** A recorded root of `domain`, read and checked again (a root recorded earlier may have expired since). */
export function recordedRoot(server: LoadedStream<ForeignServerState>, domain: string, serial: string, at: Date): IdCert {
  const recorded = server.state.roots[serial];
  if (!recorded) throw new DomainError(ERROR_CODE.notFederated, `The root ${serial} of ${domain} is not known here.`);
  return refusingWith(ERROR_CODE.notFederated, `The root ${serial} of ${domain} cannot be used`, () => verifyForeignRoot(recorded.certPem, domain, at));
}

/** The checks of verifyForeignActorCert that do not depend on the time, so that a forged cert is
 * told apart from an expired one. */
function verifyForeignActorCertExceptTime(cert: IdCert, root: IdCert): void {
  verifyForeignActorCert(cert, root, cert.notBefore);
}

import { Inject, Injectable, Logger } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import { ERROR_CODE, newCommand } from '@p2/contracts';
import { foreignCertRefusal } from '@p2/domain';
import {
  checkValidAt,
  CLOCK_SKEW_SECONDS,
  decodePemOrDer,
  foreignCertStatus,
  PolyprotoError,
  verifyCacheInfo,
  verifyForeignActorCert,
  verifyForeignRoot,
  type ForeignCertStatus,
  type HomeServerCertDocument,
  type IdCert,
} from '@p2/polyproto';
import { foreignIdCert, foreignRoot, foreignRoots, type ForeignRootRow } from '@p2/read-models';
import { ApiError, badRequest } from '../http/api-error';
import { CommandSender } from '../messaging/command-sender.service';
import { ReadDatabase } from '../read-models/read-database';
import type { PresentedActorCert } from '../identify/presented-id-cert';
import { HomeServerUnreachable } from './federation-http.client';
import { HomeServerClient } from './home-server.client';

const notFederated = (message: string) => new ApiError(404, ERROR_CODE.notFederated, message);
const invalidated = (message: string) => new ApiError(403, ERROR_CODE.certInvalidated, message);
const unix = (date: Date) => Math.floor(date.getTime() / 1000);
/** Most recorded roots of a domain a cert is tried against, the current one and the latest fetched
 * first: each try is a signature verification, and a domain decides how many roots it has had
 * (docs/protocol.md#federation-verification). A cert of an older root fetches it again by its time. */
const ROOTS_TRIED = 20;

/** What a home server that was asked said about a cert, as recorded: its statement on the cert's
 * entry, or that it lists no entry for it (which ends the cert here, docs/protocol.md#foreign-invalidation). */
export type HomeServerWord = { readonly listed: true; readonly status: ForeignCertStatus } | { readonly listed: false };

/** A word as recorded: `checkedAt` is the certstore's instant for it (absent from an older certstore). */
interface AskedWord {
  readonly word: HomeServerWord;
  readonly checkedAt?: string;
}

/** A root fetched and checked, not yet recorded. */
interface FetchedRoot {
  readonly root: IdCert;
  readonly cache?: HomeServerCertDocument['cache'];
  readonly freshSeconds?: number;
}

/**
 * Vouching for another home server's actor's cert before it signs in or is announced here
 * (docs/protocol.md#federation-verification), in the order of docs/protocol.md#identify: the
 * cert's validity; the root that signed it (the domain's current root, else the one it had when the
 * cert was issued — an unknown root is fetched, which is how a rotation is noticed); the home
 * server's statement about the cert (listed, invalidated or not, its window signed with the
 * current root key; or not listed at all). What was learnt is recorded through the certstore
 * (CacheForeignServerCert, CacheForeignIdCert), which checks it again. A home server that cannot
 * be asked does not block a cert it vouched for within the cache window
 * (docs/protocol.md#federation-cache).
 */
@Injectable()
export class ForeignCertVerifier {
  private readonly logger = new Logger('Federation');

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly db: ReadDatabase,
    private readonly homeServers: HomeServerClient,
    private readonly commands: CommandSender,
  ) {}

  /** Resolves when `cert` may be used now; else an ApiError (404 NOT_FEDERATED, 403
   * CERT_INVALIDATED, 400 MALFORMED_CERT). Resolves to the instant the home server's word was
   * recorded when it was asked now (the command that follows passes it on as `vouchedAt`), to
   * undefined when the cache answered. */
  async vouch(cert: PresentedActorCert, now = this.clock.now()): Promise<string | undefined> {
    const domain = cert.federationId.domain;
    if (!this.config.federation.enabled) throw notFederated(`The ID-Cert was issued by ${domain}; this home server does not federate with other servers.`);
    try {
      checkValidAt(cert, now);
    } catch (error) {
      if (error instanceof PolyprotoError) throw invalidated(`The ID-Cert ${cert.serial} is outside its validity.`);
      throw error;
    }
    let asked: AskedWord;
    try {
      asked = await this.askHomeServer(cert, now);
    } catch (error) {
      if (!(error instanceof HomeServerUnreachable)) throw error;
      this.logger.warn(`federation: ${error.message}; falling back to what is cached for ${cert.federationId.toString()}`);
      await this.fromCache(cert, now);
      return undefined;
    }
    const { word } = asked;
    if (!word.listed) throw invalidated(`The home server ${domain} does not list the ID-Cert ${cert.serial}.`);
    if (word.status.invalidated) throw invalidated(`The ID-Cert ${cert.serial} is invalidated by its home server ${domain}.`);
    return asked.checkedAt;
  }

  /** The current root of a domain and its cache, fetched and recorded now. Used by the refresher too. */
  async refreshCurrentRoot(domain: string, now = this.clock.now()): Promise<ForeignRootRow> {
    const fetched = await this.fetchRoot(domain, undefined, now);
    // HomeServerClient never says "none" for the current root; should it, the home server is not askable
    if (!fetched) throw new HomeServerUnreachable(`${domain} says it has no current root certificate`);
    await this.recordRoot(domain, fetched, true);
    const current = (await foreignRoots(this.db, domain, 1)).find((r) => r.isCurrent);
    if (!current) throw new Error(`the current root of ${domain} was recorded but cannot be read back`);
    return current;
  }

  /** What the home server says about `cert` now, recorded (an invalidated or unlisted cert is an
   * answer: the certstore ends it); throws when the home server cannot be asked. */
  async recheck(cert: PresentedActorCert, now = this.clock.now()): Promise<HomeServerWord> {
    return (await this.askHomeServer(cert, now)).word;
  }

  /** The home server's word on `cert`, recorded through the certstore; HomeServerUnreachable when
   * it cannot be asked (or believed) now, an ApiError when the cert is none of its roots'. */
  private async askHomeServer(cert: PresentedActorCert, now: Date): Promise<AskedWord> {
    const domain = cert.federationId.domain;
    let roots = await foreignRoots(this.db, domain, ROOTS_TRIED);
    let current = roots.find((r) => r.isCurrent && r.cacheUntil > now);
    let fetchedCurrent = false;
    const refresh = async () => {
      current = await this.refreshCurrentRoot(domain, now);
      roots = await foreignRoots(this.db, domain, ROOTS_TRIED);
      fetchedCurrent = true;
    };
    if (!current) await refresh();

    let signer = signingRoot(cert, roots);
    if (!signer && !fetchedCurrent) {
      // a cert of a root not seen yet: the domain may have rotated its key
      await refresh();
      signer = signingRoot(cert, roots);
    }
    // the root the home server had when the cert was issued (this server backdates notBefore by
    // the clock skew; others may too)
    for (const at of [unix(cert.notBefore), unix(cert.notBefore) + CLOCK_SKEW_SECONDS]) {
      if (signer) break;
      const past = await this.fetchRoot(domain, at, now);
      // Only a past root that signed this cert is recorded: a home server may answer any root for
      // a time, a new one each time, and each one recorded would be kept, and tried, for good.
      if (!past || !signs(past.root, cert)) continue;
      await this.recordRoot(domain, past, false);
      signer = await foreignRoot(this.db, domain, past.root.serial.toString());
    }
    if (!signer) throw badRequest(`The ID-Cert does not verify with any root certificate ${domain} has published.`, ERROR_CODE.malformedCert);

    const listed = await this.homeServers.actorCerts(cert.federationId, cert.sessionId);
    let word: HomeServerWord;
    for (;;) {
      try {
        word = this.wordOf(listed.document, cert, current!, now);
        break;
      } catch (error) {
        if (!(error instanceof PolyprotoError && error.code === 'CACHE_SIGNATURE_INVALID')) throw error;
        // Signed with the current root just fetched, and still not verifying: the answer cannot be
        // believed now, which is the home server not being askable (the cache may answer), not a fault here.
        if (fetchedCurrent) throw new HomeServerUnreachable(`${domain} answered cache information that was refused (${error.message})`);
        // signed with a key this server has not seen as current yet: the domain may have rotated its key
        await refresh();
      }
    }
    const recorded = await this.commands.send(
      newCommand(
        'CacheForeignIdCert',
        {
          federationId: cert.federationId.toString(),
          sessionId: cert.sessionId,
          cert: Buffer.from(cert.der).toString('base64'),
          rootSerial: signer.serial,
          ...(word.listed
            ? { invalidated: word.status.invalidated, ...(word.status.cache ? { cache: { ...word.status.cache } } : {}) }
            : { invalidated: true, listed: false as const }),
          ...(listed.freshSeconds === undefined ? {} : { httpFreshSeconds: listed.freshSeconds }),
        },
        this.commands.commandId('federation/idcert', cert.federationId.toString(), undefined),
      ),
    );
    return { word, ...(recorded.checkedAt === undefined ? {} : { checkedAt: recorded.checkedAt }) };
  }

  /** foreignCertStatus with its refusals as answers: not listed is a word like any other (the
   * certstore ends the cert); a broken window → the home server cannot be believed now
   * (HomeServerUnreachable, so the cache may answer). */
  private wordOf(entries: Parameters<typeof foreignCertStatus>[0], cert: IdCert, current: ForeignRootRow, now: Date): HomeServerWord {
    try {
      return { listed: true, status: foreignCertStatus(entries, cert, Buffer.from(current.publicKey, 'base64'), now) };
    } catch (error) {
      if (!(error instanceof PolyprotoError)) throw error;
      if (error.code === 'FOREIGN_CERT_NOT_LISTED') return { listed: false };
      if (error.code === 'CACHE_SIGNATURE_INVALID') throw error;
      throw new HomeServerUnreachable(`${current.domain} answered cache information that was refused (${error.message})`);
    }
  }

  /** Fetches and checks the domain's current root (`timestamp` undefined) or the one it had at
   * `timestamp`; undefined when it says it had none then. Nothing is recorded yet (recordRoot). */
  private async fetchRoot(domain: string, timestamp: number | undefined, now: Date): Promise<FetchedRoot | undefined> {
    const fetched = await this.homeServers.serverCert(domain, timestamp);
    if (!fetched) return undefined;
    const { pem, cache } = fetched.document;
    try {
      const root = verifyForeignRoot(pem, domain, now);
      // the current root's window is signed by itself; a past root's is checked by the certstore
      // against the current root
      if (cache && timestamp === undefined) verifyCacheInfo(pem, cache, root.publicKey, now);
      return { root, ...(cache ? { cache } : {}), ...(fetched.freshSeconds === undefined ? {} : { freshSeconds: fetched.freshSeconds }) };
    } catch (error) {
      if (error instanceof PolyprotoError) throw new HomeServerUnreachable(`the root ${domain} publishes was refused (${error.message})`);
      throw error;
    }
  }

  private async recordRoot(domain: string, fetched: FetchedRoot, current: boolean): Promise<void> {
    await this.commands.send(
      newCommand(
        'CacheForeignServerCert',
        {
          domain,
          cert: Buffer.from(fetched.root.der).toString('base64'),
          current,
          ...(fetched.cache ? { cache: { ...fetched.cache } } : {}),
          ...(fetched.freshSeconds === undefined ? {} : { httpFreshSeconds: fetched.freshSeconds }),
        },
        this.commands.commandId('federation/root', domain, undefined),
      ),
    );
  }

  /** The home server could not be asked: what it said last, if that is still inside its window.
   * Why it could not be asked (a name that does not resolve, a private address, a refused
   * connection, a TLS failure) is logged by vouch, never answered: anyone may present a cert of
   * any domain, and the answer would tell them what this server can reach
   * (docs/protocol.md#federation-http). */
  private async fromCache(cert: PresentedActorCert, now: Date): Promise<void> {
    const domain = cert.federationId.domain;
    const row = await foreignIdCert(this.db, cert.federationId.toString(), cert.sessionId, cert.serial.toString());
    if (!row || !Buffer.from(decodePemOrDer(row.pem, 'CERTIFICATE')).equals(cert.der)) {
      throw notFederated(`The home server ${domain} could not be asked, and it has not vouched for this ID-Cert here before.`);
    }
    const root = await foreignRoot(this.db, domain, row.rootSerial);
    const refusal = foreignCertRefusal(
      {
        serial: row.serial,
        invalidated: row.invalidatedAt !== null,
        notBefore: row.notBefore.toISOString(),
        notAfter: row.notAfter.toISOString(),
        cacheUntil: row.cacheUntil.toISOString(),
        checkedAt: row.checkedAt.toISOString(),
      },
      now,
      root?.supersededAt ?? undefined,
    );
    if (!refusal) return;
    if (refusal.code === ERROR_CODE.certInvalidated) throw invalidated(refusal.message);
    throw notFederated(`The home server ${domain} could not be asked, and its last word on this ID-Cert has expired here.`);
  }
}

/** The recorded root of the cert's domain whose key verifies it (validity checked separately). */
function signingRoot(cert: PresentedActorCert, roots: readonly ForeignRootRow[]): ForeignRootRow | undefined {
  return roots.find((row) => {
    try {
      return signs(verifyForeignRoot(row.pem, row.domain, cert.notBefore), cert);
    } catch (error) {
      if (error instanceof PolyprotoError) return false;
      throw error;
    }
  });
}

/** Whether `root`'s key signed `cert`, with the cert inside the root's validity. */
function signs(root: IdCert, cert: PresentedActorCert): boolean {
  try {
    verifyForeignActorCert(cert, root, cert.notBefore);
    return true;
  } catch (error) {
    if (error instanceof PolyprotoError) return false;
    throw error;
  }
}

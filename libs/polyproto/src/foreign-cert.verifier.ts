/**
 * Verifying the certificates of another home server's actors (docs/protocol.md#federation-verification):
 * the foreign root, the actor cert against it, and the home server's statement about the cert
 * (listed, invalidated or not, its signed cache window). Pure: the caller fetches the documents
 * (foreign-documents.ts reads them) and passes the time of use.
 */
import { verifyCacheableIdCert } from './cache-signature';
import { fail, quote } from './errors';
import { readIdCert, checkActorCertAgainstRoot, type IdCert } from './id-cert.reader';
import { decodePemOrDer } from './pem';
import type { ActorCertEntry, CacheInfo } from './foreign-documents';

/** How far a home server's clock may be ahead of ours when it starts a cache window. */
export const CACHE_WINDOW_SKEW_SECONDS = 60;

/**
 * Reads a foreign home server's root and checks it for use at `at`: every rule of a home-server
 * root (self-signed with strict Ed25519, cA with keyCertSign, DC-only names, v3, only
 * basicConstraints and keyUsage), valid at `at`, and its DCs spell exactly `domain` — the domain
 * of the actors it certifies. Throws PolyprotoError (`CERT_*`, `FOREIGN_ROOT_DOMAIN_MISMATCH`).
 */
export function verifyForeignRoot(input: string | Uint8Array, domain: string, at: Date): IdCert {
  const root = readIdCert(input, { target: 'home-server', at });
  if (root.issuerDomain !== domain) {
    fail(
      'FOREIGN_ROOT_DOMAIN_MISMATCH',
      'subject.domainComponent',
      "docs/protocol.md#federation-verification: a home server's root names the domain of its actors",
      `the root of ${quote(domain)} names ${quote(root.issuerDomain)}`,
    );
  }
  return root;
}

/**
 * Checks an actor cert (read with `readIdCert(…, {target: 'actor'})`) against the foreign root that
 * issued it, at the time of use `at`: the actor's domain is the root's, the issuer is the root's
 * subject, the cert lies inside the root's validity, its signature verifies (strict Ed25519) with
 * the root key over the original TBS bytes, and `at` lies inside its validity (both bounds
 * inclusive). Throws PolyprotoError (`CERT_*`).
 */
export function verifyForeignActorCert(cert: IdCert, root: IdCert, at: Date): void {
  if (!cert?.federationId || cert.sessionId === undefined) fail('CERT_OPTIONS_INVALID', 'cert', 'an actor certificate read by readIdCert is required');
  if (cert.federationId.domain !== root.issuerDomain) {
    fail(
      'CERT_NAME_INVALID',
      'subject.uid',
      "docs/protocol.md#federation-verification: an actor's cert is issued by the root of the actor's domain",
      `${quote(cert.federationId.toString())} vs a root of ${quote(root.issuerDomain)}`,
    );
  }
  checkActorCertAgainstRoot(cert, root);
  checkValidAt(cert, at);
}

/** `notBefore ≤ at ≤ notAfter` at whole seconds (docs/protocol.md#cert-validity). */
export function checkValidAt(cert: Pick<IdCert, 'notBefore' | 'notAfter'>, at: Date): void {
  const t = Math.floor(at.getTime() / 1000) * 1000;
  if (!Number.isFinite(t)) fail('CERT_OPTIONS_INVALID', 'at', 'a valid Date is required');
  if (t < cert.notBefore.getTime() || t > cert.notAfter.getTime()) {
    fail(
      'CERT_NOT_VALID_AT_TIME',
      'validity',
      'docs/protocol.md#cert-validity: notBefore ≤ t ≤ notAfter',
      `t = ${new Date(t).toISOString()}, validity ${cert.notBefore.toISOString()} – ${cert.notAfter.toISOString()}`,
    );
  }
}

/**
 * Checks a home server's signed cache window for a cert (docs/protocol.md#cache-information):
 * the signature verifies with `serverPublicKey` (the home server's current root key) over the
 * cert's serial and the window, and `at` lies inside the window (its start may be up to
 * {@link CACHE_WINDOW_SKEW_SECONDS} ahead of `at`: clocks differ). Throws `CACHE_SIGNATURE_INVALID`
 * or `CACHE_WINDOW_INVALID`.
 */
export function verifyCacheInfo(certPem: string, cache: CacheInfo, serverPublicKey: Uint8Array, at: Date): void {
  const signed = verifyCacheableIdCert(
    {
      idCertPem: certPem,
      cacheNotValidBefore: cache.notValidBefore,
      cacheNotValidAfter: cache.notValidAfter,
      cacheSignature: cache.signature,
      invalidatedAt: cache.invalidatedAt,
    },
    serverPublicKey,
  );
  if (!signed) {
    fail('CACHE_SIGNATURE_INVALID', 'cacheSignature', "docs/protocol.md#cache-information: the cache window is signed with the home server's current key");
  }
  const t = Math.floor(at.getTime() / 1000);
  if (t + CACHE_WINDOW_SKEW_SECONDS < cache.notValidBefore || t > cache.notValidAfter) {
    fail(
      'CACHE_WINDOW_INVALID',
      'cacheNotValidAfter',
      'docs/protocol.md#cache-information: a cache window is used only inside it',
      `t = ${t}, window ${cache.notValidBefore} – ${cache.notValidAfter}`,
    );
  }
}

/** What a home server says about one of its actors' certs at the time of a check. */
export interface ForeignCertStatus {
  /** the home server lists the cert as invalidated (at or before the time of the check) */
  readonly invalidated: boolean;
  /** UNIX seconds of the invalidation, when the home server says when (2025 form) */
  readonly invalidatedAt?: number;
  /** the signed cache window, when the home server gave one (2025 form); verified */
  readonly cache?: CacheInfo;
}

/**
 * The home server's statement about `cert`, from its answer to `GET /idcert/actor/:fid` (or the
 * 2024 `/key/actor/:fid`): the entry holding exactly these certificate bytes; a 2025 entry's cache
 * window is verified with `serverPublicKey` before anything of it is believed. Throws
 * `FOREIGN_CERT_NOT_LISTED` when the home server does not list the cert (it does not vouch for
 * it), or the errors of {@link verifyCacheInfo}.
 */
export function foreignCertStatus(entries: readonly ActorCertEntry[], cert: IdCert, serverPublicKey: Uint8Array, at: Date): ForeignCertStatus {
  const der = Buffer.from(cert.der);
  const entry = entries.find((e) => {
    try {
      return der.equals(decodePemOrDer(e.pem, 'CERTIFICATE'));
    } catch {
      return false;
    }
  });
  if (!entry) {
    fail('FOREIGN_CERT_NOT_LISTED', 'idcerts', "docs/protocol.md#federation-verification: the actor's home server lists the cert", `serial ${cert.serial}`);
  }
  if (!entry.cache) return { invalidated: entry.invalidated };
  verifyCacheInfo(entry.pem, entry.cache, serverPublicKey, at);
  const invalidatedAt = entry.cache.invalidatedAt;
  return { invalidated: entry.invalidated, ...(invalidatedAt === undefined ? {} : { invalidatedAt }), cache: entry.cache };
}

/**
 * Until when a checked statement may be used without asking the home server again
 * (docs/protocol.md#federation-cache): the earliest of the signed window's end, the HTTP
 * freshness of the answer, `fetchedAt + maxSeconds` and the cert's own notAfter. Whole seconds;
 * never before `fetchedAt`.
 */
export function foreignCacheUntil(args: { fetchedAt: Date; maxSeconds: number; cacheNotValidAfter?: number; httpFreshSeconds?: number; notAfter: Date }): Date {
  const fetched = Math.floor(args.fetchedAt.getTime() / 1000);
  const limits = [fetched + args.maxSeconds, Math.floor(args.notAfter.getTime() / 1000)];
  if (args.cacheNotValidAfter !== undefined) limits.push(args.cacheNotValidAfter);
  if (args.httpFreshSeconds !== undefined) limits.push(fetched + args.httpFreshSeconds);
  return new Date(Math.max(fetched, Math.min(...limits)) * 1000);
}

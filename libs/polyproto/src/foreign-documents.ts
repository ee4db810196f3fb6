/**
 * Reading what another home server answers (docs/protocol.md#federation-discovery): its discovery
 * document, its root certificate and its actors' certificates, in every form the protocol's
 * versions use. Only the shape is checked here; foreign-cert.verifier.ts decides what is believed.
 */
import { fail } from './errors';
import { isStorableUnixSeconds, LATEST_UNIX_SECONDS } from './time';

const CODE = 'FEDERATION_DOCUMENT_INVALID';
const RULE = 'docs/protocol.md#federation-discovery';

/** Most certificates one answer may list (an actor rarely has more than a handful of sessions). */
export const MAX_LISTED_CERTS = 1000;

/** The signed cache window of a 2025 cacheable object (docs/protocol.md#cache-information), UNIX seconds. */
export interface CacheInfo {
  readonly notValidBefore: number;
  readonly notValidAfter: number;
  /** 128 lowercase hex digits */
  readonly signature: string;
  readonly invalidatedAt?: number;
}

/** One certificate of `GET /idcert/server` (a cacheable object, or the older JSON string PEM). */
export interface HomeServerCertDocument {
  readonly pem: string;
  readonly cache?: CacheInfo;
}

/** One certificate listed for an actor, whatever shape the home server answered in. */
export interface ActorCertEntry {
  readonly pem: string;
  /** the 2024 flag, or derived from `invalidatedAt` */
  readonly invalidated: boolean;
  readonly cache?: CacheInfo;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A time of the cache information: at most the end of year 9999, which every date this server
 * stores is held to (a larger one would be believed here and refused by the database later). */
function unixSeconds(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !isStorableUnixSeconds(n) || n < 0) {
    fail(CODE, field, `${RULE}: UNIX seconds as an integer from 0 to ${LATEST_UNIX_SECONDS} (the end of year 9999)`);
  }
  return n;
}

function certText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > 65536) fail(CODE, field, `${RULE}: a PEM certificate string`);
  return value;
}

/** The cache fields of a 2025 object; undefined when it carries none (a 2024 object). */
function cacheInfoOf(o: Record<string, unknown>, field: string): CacheInfo | undefined {
  if (o.cacheSignature === undefined && o.cacheNotValidBefore === undefined && o.cacheNotValidAfter === undefined) return undefined;
  const signature = o.cacheSignature;
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature)) fail(CODE, `${field}.cacheSignature`, `${RULE}: 128 hex digits`);
  const notValidBefore = unixSeconds(o.cacheNotValidBefore, `${field}.cacheNotValidBefore`);
  const notValidAfter = unixSeconds(o.cacheNotValidAfter, `${field}.cacheNotValidAfter`);
  if (notValidBefore > notValidAfter) fail(CODE, `${field}.cacheNotValidAfter`, `${RULE}: a cache window ends after it starts`);
  const invalidatedAt = o.invalidatedAt === undefined || o.invalidatedAt === null ? undefined : unixSeconds(o.invalidatedAt, `${field}.invalidatedAt`);
  return { notValidBefore, notValidAfter, signature: signature.toLowerCase(), ...(invalidatedAt === undefined ? {} : { invalidatedAt }) };
}

/**
 * The API base of `GET /.well-known/polyproto-core` (`{"api": "https://…/.p2/core/"}`): an absolute
 * http(s) URL without credentials, query or fragment, returned with a trailing slash. Whether plain
 * http is acceptable is the caller's decision.
 */
export function readWellKnown(json: unknown): URL {
  if (!isObject(json) || typeof json.api !== 'string' || json.api.length > 2048) fail(CODE, 'api', `${RULE}: {"api": "<absolute URL>"}`);
  let url: URL;
  try {
    url = new URL(json.api);
  } catch {
    return fail(CODE, 'api', `${RULE}: an absolute URL`);
  }
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password || url.search || url.hash) {
    fail(CODE, 'api', `${RULE}: an http(s) URL without credentials, query or fragment`);
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The answer of `GET /idcert/server`: a 2025 cacheable object, or a JSON string holding the PEM
 * (2024 and polyproto-rs 0.9). */
export function readHomeServerCertDocument(json: unknown): HomeServerCertDocument {
  if (typeof json === 'string') return { pem: certText(json, 'idCertPem') };
  if (!isObject(json)) fail(CODE, 'idCertPem', `${RULE}: a cacheable object or a JSON string PEM`);
  const pem = certText(json.idCertPem ?? json.id_cert, 'idCertPem');
  const cache = cacheInfoOf(json, 'idCertPem');
  return cache ? { pem, cache } : { pem };
}

/**
 * The answer of `GET /idcert/actor/:fid` or `GET /key/actor/:fid`: an array of 2025 cacheable
 * objects (this server adds the 2024 `id_cert`/`invalidated` fields), an array of polyproto-rs 0.9
 * `{id_cert, invalidated}`, or the 2024 `{idcerts: [...], invalidated: [...]}`.
 */
export function readActorCertsDocument(json: unknown): ActorCertEntry[] {
  if (isObject(json) && Array.isArray(json.idcerts)) {
    const flags = json.invalidated;
    if (!Array.isArray(flags) || flags.length !== json.idcerts.length) fail(CODE, 'invalidated', `${RULE}: as many flags as certificates`);
    if (json.idcerts.length > MAX_LISTED_CERTS) fail(CODE, 'idcerts', `${RULE}: at most ${MAX_LISTED_CERTS} certificates`);
    return json.idcerts.map((pem, i) => {
      if (typeof flags[i] !== 'boolean') fail(CODE, `invalidated[${i}]`, `${RULE}: a boolean`);
      return { pem: certText(pem, `idcerts[${i}]`), invalidated: flags[i] as boolean };
    });
  }
  if (!Array.isArray(json)) fail(CODE, 'idcerts', `${RULE}: an array of certificate objects`);
  if (json.length > MAX_LISTED_CERTS) fail(CODE, 'idcerts', `${RULE}: at most ${MAX_LISTED_CERTS} certificates`);
  return json.map((item, i) => {
    const field = `[${i}]`;
    if (!isObject(item)) fail(CODE, field, `${RULE}: a certificate object`);
    const pem = certText(item.idCertPem ?? item.id_cert, `${field}.idCertPem`);
    const cache = cacheInfoOf(item, field);
    if (item.invalidated !== undefined && typeof item.invalidated !== 'boolean') fail(CODE, `${field}.invalidated`, `${RULE}: a boolean`);
    const invalidated = item.invalidated === true || cache?.invalidatedAt !== undefined;
    return cache ? { pem, invalidated, cache } : { pem, invalidated };
  });
}

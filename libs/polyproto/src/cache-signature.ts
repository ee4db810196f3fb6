/**
 * Cache signatures of the 2025 cacheable ID-Cert objects (docs/protocol.md#cache-information, polyproto-rs
 * `CacheableIdCert`): hex of the home server's Ed25519 signature over the ASCII string
 * decimal(serial) + decimal(cacheNotValidBefore) + decimal(cacheNotValidAfter) + (decimal(invalidatedAt) or ""),
 * no separators.
 */
import type { Ed25519Signer } from './ed25519-keys';
import { ed25519VerifyStrict } from './ed25519-strict';
import { fail } from './errors';
import { readIdCertSerial } from './id-cert.reader';

const CODE = 'CACHE_ARGUMENT_INVALID';

/** A cacheable ID-Cert object as served by `GET /idcert/actor/:fid` and `GET /idcert/server` (2025). */
export interface CacheableIdCert {
  idCertPem: string;
  cacheNotValidBefore: number;
  cacheNotValidAfter: number;
  /** Lowercase hex, 128 characters. */
  cacheSignature: string;
  /** UNIX seconds; absent when the cert is not invalidated. */
  invalidatedAt?: number;
}

function checkUnixSeconds(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(CODE, field, 'cache times are non-negative integer UNIX seconds');
  }
}

/** The exact string that is signed (docs/protocol.md#cache-information). */
export function cacheSignaturePayload(args: { serial: bigint; cacheNotValidBefore: number; cacheNotValidAfter: number; invalidatedAt?: number }): string {
  const { serial, cacheNotValidBefore, cacheNotValidAfter, invalidatedAt } = args ?? ({} as never);
  if (typeof serial !== 'bigint' || serial < 0n) fail(CODE, 'serial', 'the serial is a non-negative integer');
  checkUnixSeconds(cacheNotValidBefore, 'cacheNotValidBefore');
  checkUnixSeconds(cacheNotValidAfter, 'cacheNotValidAfter');
  if (invalidatedAt !== undefined && invalidatedAt !== null) checkUnixSeconds(invalidatedAt, 'invalidatedAt');
  const tail = invalidatedAt === undefined || invalidatedAt === null ? '' : String(invalidatedAt);
  return `${serial.toString(10)}${cacheNotValidBefore}${cacheNotValidAfter}${tail}`;
}

/**
 * Builds a cacheable object and signs it with the server key. `serial` must be the serial of
 * `idCertPem` (checked). `invalidatedAt` is included only when given.
 */
export function signCacheableIdCert(args: {
  idCertPem: string;
  serial: bigint;
  cacheNotValidBefore: number;
  cacheNotValidAfter: number;
  invalidatedAt?: number;
  signer: Ed25519Signer;
}): CacheableIdCert {
  const { idCertPem, serial, cacheNotValidBefore, cacheNotValidAfter, invalidatedAt, signer } = args ?? ({} as never);
  const payload = cacheSignaturePayload({ serial, cacheNotValidBefore, cacheNotValidAfter, invalidatedAt });
  if (typeof idCertPem !== 'string') fail(CODE, 'idCertPem', 'a PEM string is required');
  if (readIdCertSerial(idCertPem) !== serial) fail(CODE, 'serial', 'the serial must be the certificate\'s serial');
  if (!signer || typeof signer.sign !== 'function') fail(CODE, 'signer', 'an Ed25519Signer is required');
  const cacheSignature = Buffer.from(signer.sign(Buffer.from(payload, 'latin1'))).toString('hex');
  const out: CacheableIdCert = { idCertPem, cacheNotValidBefore, cacheNotValidAfter, cacheSignature };
  if (invalidatedAt !== undefined && invalidatedAt !== null) out.invalidatedAt = invalidatedAt;
  return out;
}

/**
 * Verifies a cacheable object's signature with the server's raw public key (strict Ed25519). The
 * serial is taken from `obj.serial` when given (it must then match the certificate) or from the
 * certificate. Returns false for any malformed or non-verifying input; never throws.
 */
export function verifyCacheableIdCert(
  obj: { idCertPem: string; serial?: bigint; cacheNotValidBefore: number; cacheNotValidAfter: number; cacheSignature: string; invalidatedAt?: number | null },
  serverPublicKey: Uint8Array,
): boolean {
  try {
    if (!obj || typeof obj.cacheSignature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(obj.cacheSignature)) return false;
    const certSerial = readIdCertSerial(obj.idCertPem);
    if (obj.serial !== undefined && obj.serial !== certSerial) return false;
    const payload = cacheSignaturePayload({
      serial: certSerial,
      cacheNotValidBefore: obj.cacheNotValidBefore,
      cacheNotValidAfter: obj.cacheNotValidAfter,
      invalidatedAt: obj.invalidatedAt ?? undefined,
    });
    return ed25519VerifyStrict(serverPublicKey, Buffer.from(payload, 'latin1'), Buffer.from(obj.cacheSignature, 'hex'));
  } catch {
    return false;
  }
}

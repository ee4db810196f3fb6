import { ERROR_CODE, type KeyPackageData } from '@p2/contracts';
import { DomainError, KEY_PACKAGE_LIMITS, readKeyPackage } from '@p2/domain';
import { ApiError, badRequest } from '../http/api-error';

/** The wire form of a KeyPackage (docs/protocol.md#key-package-format). */
export interface KeyPackageWire {
  protocol_version: string;
  cipher_suite: string;
  init_key: string;
  leaf_node: string;
  extensions: unknown;
}

/** POST /keypackage/@me: a JSON array of 1 to KEY_PACKAGE_LIMITS.perRequest KeyPackages (a single
 * object is read as an array of one). Every element is checked before anything is sent. */
export function parseKeyPackageUpload(body: unknown): KeyPackageData[] {
  const items = Array.isArray(body) ? body : body !== undefined && body !== null && typeof body === 'object' ? [body] : undefined;
  if (!items || items.length === 0) throw badRequest('The body must be a JSON array of one or more KeyPackages.');
  if (items.length > KEY_PACKAGE_LIMITS.perRequest) {
    throw new ApiError(413, ERROR_CODE.payloadTooLarge, `At most ${KEY_PACKAGE_LIMITS.perRequest} KeyPackages per request; send the rest in another one.`);
  }
  return items.map((item, i) => read(item, `key package ${i}`));
}

/** PUT /keypackage_lr: one KeyPackage (an array holding exactly one is accepted too). */
export function parseLastResortUpload(body: unknown): KeyPackageData {
  const item = Array.isArray(body) && body.length === 1 ? body[0] : body;
  if (item === undefined || item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw badRequest('The body must be one KeyPackage as a JSON object.');
  }
  return read(item, 'the key package');
}

export function toWire(p: KeyPackageData): KeyPackageWire {
  return { protocol_version: p.protocolVersion, cipher_suite: p.cipherSuite, init_key: p.initKey, leaf_node: p.leafNode, extensions: p.extensions };
}

function read(item: unknown, where: string): KeyPackageData {
  try {
    return readKeyPackage(item, where);
  } catch (error) {
    if (error instanceof DomainError) throw badRequest(error.message);
    throw error;
  }
}

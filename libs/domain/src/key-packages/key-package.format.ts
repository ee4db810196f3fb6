import { ERROR_CODE, type KeyPackageData } from '@p2/contracts';
import { DomainError } from '../domain-error';

/** Limits of the KeyPackage routes (R6, R7). Each one is a 400/413 answer, never a 500. */
export const KEY_PACKAGE_LIMITS = {
  /** KeyPackages in one POST /keypackage/@me (413 above). */
  perRequest: 100,
  /** Regular KeyPackages one session's cert may hold unclaimed (413 above): bounds the stock the
   * certstore loads to decide, and what one session can make the server store. */
  stockPerSession: 500,
  /** protocol_version and cipher_suite: printable ASCII labels. */
  labelMaxChars: 64,
  /** base64 characters of init_key: keeps the UNIQUE index entry well below PostgreSQL's B-tree
   * limit (~2.7 kB) while fitting every HPKE key in use, post-quantum hybrids included. */
  initKeyMaxChars: 2048,
  /** base64 characters of leaf_node. */
  leafNodeMaxChars: 16384,
  /** JSON text of extensions, and its nesting depth (jsonb storage refuses very deep values). */
  extensionsMaxChars: 16384,
  extensionsMaxDepth: 32,
} as const;

/** Field names of the wire form (profile D16) and of the command/event form. */
const WIRE = { protocolVersion: 'protocol_version', cipherSuite: 'cipher_suite', initKey: 'init_key', leafNode: 'leaf_node', extensions: 'extensions' } as const;
const DATA = { protocolVersion: 'protocolVersion', cipherSuite: 'cipherSuite', initKey: 'initKey', leafNode: 'leafNode', extensions: 'extensions' } as const;
type FieldNames = typeof WIRE | typeof DATA;

/** Reads one KeyPackage of a request body, `{protocol_version, cipher_suite, init_key, leaf_node,
 * extensions}` (profile D16): the first four are required strings, init_key and leaf_node base64
 * (standard or URL-safe alphabet, padding optional), extensions any JSON (null when absent). Other
 * fields are ignored. init_key comes back as standard padded base64, so that uniqueness is a
 * property of the key's bytes, not of its spelling. Throws DomainError P2CORE_MALFORMED_REQUEST
 * naming the field; `where` locates the package in the request (e.g. "key package 3"). */
export function readKeyPackage(raw: unknown, where: string): KeyPackageData {
  return readWith(raw, where, WIRE);
}

/** The same checks on the command/event form (camelCase), for the certstore, which trusts no
 * producer. Returns the package normalised exactly as readKeyPackage would. */
export function checkKeyPackageData(raw: unknown, where: string): KeyPackageData {
  return readWith(raw, where, DATA);
}

function readWith(raw: unknown, where: string, names: FieldNames): KeyPackageData {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw malformed(`${where} must be a JSON object {${Object.values(WIRE).join(', ')}}.`);
  const fields = raw as Record<string, unknown>;
  const label = (key: 'protocolVersion' | 'cipherSuite'): string => {
    const value = fields[names[key]];
    if (typeof value !== 'string' || !/^[\x20-\x7e]+$/.test(value) || value.length > KEY_PACKAGE_LIMITS.labelMaxChars) {
      throw malformed(`${where}: "${names[key]}" is required and must be a string of 1 to ${KEY_PACKAGE_LIMITS.labelMaxChars} printable ASCII characters.`);
    }
    return value;
  };
  const binary = (key: 'initKey' | 'leafNode', maxChars: number): { text: string; bytes: Buffer } => {
    const value = fields[names[key]];
    const bytes = typeof value === 'string' && value.length <= maxChars ? decodeBase64(value) : undefined;
    if (!bytes) throw malformed(`${where}: "${names[key]}" is required and must be non-empty base64 of at most ${maxChars} characters.`);
    return { text: value as string, bytes };
  };
  const protocolVersion = label('protocolVersion');
  const cipherSuite = label('cipherSuite');
  const initKey = binary('initKey', KEY_PACKAGE_LIMITS.initKeyMaxChars).bytes.toString('base64');
  const leafNode = binary('leafNode', KEY_PACKAGE_LIMITS.leafNodeMaxChars).text;
  const extensions = fields[names.extensions] === undefined ? null : fields[names.extensions];
  checkJson(extensions, `${where}: "${names.extensions}"`);
  return { protocolVersion, cipherSuite, initKey, leafNode, extensions };
}

/** Standard or URL-safe base64, padding optional (but only to a multiple of 4); undefined when
 * the text is not base64 or encodes nothing. */
function decodeBase64(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return undefined;
  const body = text.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  if (body.length !== text.length && text.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length > 0 ? bytes : undefined;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Any JSON that PostgreSQL's jsonb stores as given: no NUL and no lone surrogate in strings or
 * keys (jsonb refuses both), bounded depth and size. */
function checkJson(value: unknown, what: string): void {
  const text = JSON.stringify(value);
  if (text.length > KEY_PACKAGE_LIMITS.extensionsMaxChars) throw malformed(`${what} is larger than ${KEY_PACKAGE_LIMITS.extensionsMaxChars} characters of JSON.`);
  const walk = (node: unknown, depth: number): void => {
    if (depth > KEY_PACKAGE_LIMITS.extensionsMaxDepth) throw malformed(`${what} is nested deeper than ${KEY_PACKAGE_LIMITS.extensionsMaxDepth} levels.`);
    if (typeof node === 'string') {
      if (node.includes('\u0000') || LONE_SURROGATE.test(node)) throw malformed(`${what} contains a NUL character or an unpaired surrogate.`);
    } else if (typeof node === 'number') {
      if (!Number.isFinite(node)) throw malformed(`${what} contains a number JSON cannot carry.`);
    } else if (Array.isArray(node)) {
      for (const item of node) walk(item, depth + 1);
    } else if (typeof node === 'object' && node !== null) {
      for (const [key, item] of Object.entries(node)) {
        walk(key, depth + 1);
        walk(item, depth + 1);
      }
    } else if (node !== null && typeof node !== 'boolean') {
      throw malformed(`${what} is not JSON.`);
    }
  };
  walk(value, 0);
}

function malformed(message: string): DomainError {
  return new DomainError(ERROR_CODE.malformedRequest, message);
}

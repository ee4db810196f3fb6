import { ERROR_CODE, KEY_PACKAGE_LIMITS, decodeBase64, isKeyPackageLabel, storableJsonProblem, type KeyPackageData } from '@p2/contracts';
import { DomainError } from '../domain-error';

export { KEY_PACKAGE_LIMITS };

/** Reads one KeyPackage of a request body, `{protocol_version, cipher_suite, init_key, leaf_node,
 * extensions}` (docs/protocol.md#key-package-format): the first four are required strings, init_key and leaf_node base64
 * (standard or URL-safe alphabet, padding optional), extensions any JSON (null when absent). Other
 * fields are ignored. init_key comes back as standard padded base64, so that uniqueness is a
 * property of the key's bytes, not of its spelling; the result is what the KeyPackageData command
 * contract accepts. Throws DomainError P2CORE_MALFORMED_REQUEST naming the field; `where` locates
 * the package in the request (e.g. "key package 3"). */
export function readKeyPackage(raw: unknown, where: string): KeyPackageData {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw malformed(`${where} must be a JSON object {protocol_version, cipher_suite, init_key, leaf_node, extensions}.`);
  }
  const fields = raw as Record<string, unknown>;
  const label = (name: 'protocol_version' | 'cipher_suite'): string => {
    const value = fields[name];
    if (!isKeyPackageLabel(value)) throw malformed(`${where}: "${name}" is required and must be a string of 1 to ${KEY_PACKAGE_LIMITS.labelMaxChars} printable ASCII characters.`);
    return value;
  };
  const binary = (name: 'init_key' | 'leaf_node', maxChars: number): { text: string; bytes: Buffer } => {
    const value = fields[name];
    const bytes = typeof value === 'string' && value.length <= maxChars ? decodeBase64(value) : undefined;
    if (!bytes) throw malformed(`${where}: "${name}" is required and must be non-empty base64 of at most ${maxChars} characters.`);
    return { text: value as string, bytes };
  };
  const protocolVersion = label('protocol_version');
  const cipherSuite = label('cipher_suite');
  const initKey = binary('init_key', KEY_PACKAGE_LIMITS.initKeyMaxChars).bytes.toString('base64');
  const leafNode = binary('leaf_node', KEY_PACKAGE_LIMITS.leafNodeMaxChars).text;
  const extensions = fields.extensions === undefined ? null : fields.extensions;
  const problem = storableJsonProblem(extensions);
  if (problem) throw malformed(`${where}: "extensions" ${problem}.`);
  return { protocolVersion, cipherSuite, initKey, leafNode, extensions };
}

function malformed(message: string): DomainError {
  return new DomainError(ERROR_CODE.malformedRequest, message);
}

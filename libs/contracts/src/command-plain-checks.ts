import { isInt, max, min } from 'class-validator';
import { isCanonicalSerial } from '@p2/polyproto';
import {
  isBase64Text,
  isCanonicalDottedOid,
  isCanonicalFederationId,
  isCanonicalSessionId,
  isNonEmptyStorableText,
  isStorableJson,
} from './command-fields';
import {
  AcknowledgeInboxData,
  AddKeyPackagesData,
  INBOX_POSITION,
  KeyMaterialItem,
  KeyPackageData,
  ReplaceLastResortKeyPackageData,
  StoreKeyMaterialData,
  type CommandDataOf,
  type CommandType,
} from './commands';
import { isCanonicalBase64, isKeyPackageLabel, KEY_PACKAGE_LIMITS } from './key-package.rules';
import { isCopiedObject, isJsonArray, isOpaqueJsonData, plainListOf } from './plain-data';

/**
 * Hand-written checks of the usual, valid form of the hottest commands, each the decorators of its
 * class as one function: the instance decodeCommandData's full path (class-transformer, then
 * class-validator with whitelist, forbidNonWhitelisted and forbidUnknownValues) would return, or
 * undefined. Undefined is no verdict: the full path then runs and gives its answer. A check may
 * turn down valid data (it pays for the full path), never accept data the decorators refuse; so
 * every object here must be a JSON object with no key outside its class, at every level, and a
 * field of any JSON is taken as it is, as the full path takes it (OpaqueJson). libs/contracts/test/
 * command-plain-checks.spec.ts runs both paths over the same data.
 *
 * JSON values (extensions, the algorithm lists) are the received data's own, not copies: commands
 * are read-only, and the received message is not used again.
 */

const keys = <T>(...names: (keyof T & string)[]): ReadonlySet<string> => new Set(names);

/** IsOptional: null and undefined are not checked. */
const absent = (value: unknown) => value === undefined || value === null;

const ACKNOWLEDGE_INBOX = keys<AcknowledgeInboxData>('federationId', 'sessionId', 'upTo');
function acknowledgeInbox(data: unknown): AcknowledgeInboxData | undefined {
  if (!isCopiedObject(data, ACKNOWLEDGE_INBOX)) return undefined;
  const { federationId, sessionId, upTo } = data;
  if (!isCanonicalFederationId(federationId) || !isCanonicalSessionId(sessionId)) return undefined;
  if (!isInt(upTo) || !min(upTo, INBOX_POSITION.min) || !max(upTo, INBOX_POSITION.max)) return undefined;
  return Object.assign(new AcknowledgeInboxData(), data);
}

const KEY_PACKAGE = keys<KeyPackageData>('protocolVersion', 'cipherSuite', 'initKey', 'leafNode', 'extensions');
function keyPackage(value: unknown): KeyPackageData | undefined {
  if (!isCopiedObject(value, KEY_PACKAGE)) return undefined;
  const { protocolVersion, cipherSuite, initKey, leafNode, extensions } = value;
  if (!isKeyPackageLabel(protocolVersion) || !isKeyPackageLabel(cipherSuite)) return undefined;
  if (!isCanonicalBase64(initKey, KEY_PACKAGE_LIMITS.initKeyMaxChars) || !isBase64Text(leafNode, KEY_PACKAGE_LIMITS.leafNodeMaxChars)) return undefined;
  if (!isOpaqueJsonData(extensions) || !isStorableJson(extensions)) return undefined;
  return Object.assign(new KeyPackageData(), value);
}

const ADD_KEY_PACKAGES = keys<AddKeyPackagesData>('federationId', 'sessionId', 'serial', 'keyPackages');
function addKeyPackages(data: unknown): AddKeyPackagesData | undefined {
  if (!isCopiedObject(data, ADD_KEY_PACKAGES)) return undefined;
  const { federationId, sessionId, serial } = data;
  if (!isCanonicalFederationId(federationId) || !isCanonicalSessionId(sessionId) || !isCanonicalSerial(serial)) return undefined;
  const keyPackages = plainListOf(data.keyPackages, keyPackage);
  return keyPackages && Object.assign(new AddKeyPackagesData(), data, { keyPackages });
}

const REPLACE_LAST_RESORT = keys<ReplaceLastResortKeyPackageData>('federationId', 'sessionId', 'serial', 'keyPackage');
function replaceLastResortKeyPackage(data: unknown): ReplaceLastResortKeyPackageData | undefined {
  if (!isCopiedObject(data, REPLACE_LAST_RESORT)) return undefined;
  const { federationId, sessionId, serial } = data;
  if (!isCanonicalFederationId(federationId) || !isCanonicalSessionId(sessionId) || !isCanonicalSerial(serial)) return undefined;
  const checked = keyPackage(data.keyPackage);
  return checked && Object.assign(new ReplaceLastResortKeyPackageData(), data, { keyPackage: checked });
}

const KEY_MATERIAL_ITEM = keys<KeyMaterialItem>('serial', 'keyData', 'encryptionAlgorithms', 'rawEncryptionAlgorithms');
function keyMaterialItem(value: unknown): KeyMaterialItem | undefined {
  if (!isCopiedObject(value, KEY_MATERIAL_ITEM)) return undefined;
  const { serial, keyData, encryptionAlgorithms, rawEncryptionAlgorithms } = value;
  if (!isCanonicalSerial(serial) || !isNonEmptyStorableText(keyData)) return undefined;
  if (!isJsonArray(encryptionAlgorithms) || !encryptionAlgorithms.every((oid) => isCanonicalDottedOid(oid))) return undefined;
  if (!absent(rawEncryptionAlgorithms) && !(isOpaqueJsonData(rawEncryptionAlgorithms) && isStorableJson(rawEncryptionAlgorithms))) return undefined;
  return Object.assign(new KeyMaterialItem(), value);
}

const STORE_KEY_MATERIAL = keys<StoreKeyMaterialData>('federationId', 'items');
function storeKeyMaterial(data: unknown): StoreKeyMaterialData | undefined {
  if (!isCopiedObject(data, STORE_KEY_MATERIAL) || !isCanonicalFederationId(data.federationId)) return undefined;
  const items = plainListOf(data.items, keyMaterialItem);
  return items && Object.assign(new StoreKeyMaterialData(), data, { items });
}

const PLAIN_CHECKS = new Map<CommandType, (data: unknown) => object | undefined>([
  ['AcknowledgeInbox', acknowledgeInbox],
  ['AddKeyPackages', addKeyPackages],
  ['ReplaceLastResortKeyPackage', replaceLastResortKeyPackage],
  ['StoreKeyMaterial', storeKeyMaterial],
]);

/** The instance the full path would return for `data` when the type has a plain check and `data`
 * is a valid command of its usual form; undefined otherwise. */
export function plainCommandData<T extends CommandType>(type: T, data: unknown): CommandDataOf<T> | undefined {
  return PLAIN_CHECKS.get(type)?.(data) as CommandDataOf<T> | undefined;
}

import { ERROR_CODE, type KeyMaterialItem } from '@p2/contracts';
import { algorithmIdentifierOid, isSerialInRange, parseDottedOid, PolyprotoError, SERIAL_DECIMAL } from '@p2/polyproto';
import { ApiError, badRequest } from '../http/api-error';
import type { Fields } from '../http/request-fields';

/**
 * The request shapes of the key material routes (docs/protocol.md#key-material-shapes), all normalised
 * here so that the command and the read model only ever see decimal serials and dotted OIDs:
 *  - 2024:          `{key_data: "<PEM>", serial_number: "123"}` (one object or an array)
 *  - beta.3:        `[{key_data, serialNumber: 123, encryptionAlgorithms: ["1.2.3"]}]`
 *  - polyproto-rs:  `[{serial_number: [bytes, big-endian], key_data, encryption_algorithm: [DER bytes]}]`
 *  - 2024-06 types: `encryption_algorithms: [[DER bytes], ...]`
 */

/** Bounds on one item's algorithm list (real lists hold one to three). */
export const MAX_ALGORITHMS_PER_ITEM = 16;
export const MAX_ALGORITHM_IDENTIFIER_BYTES = 1024;

/** A serial as a JSON number, a decimal string or a big-endian byte array → canonical decimal. */
export function parseSerial(value: unknown, field: string): string {
  let serial: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw badRequest(`${field} must be a whole number.`);
    if (!Number.isSafeInteger(value)) throw badRequest(`${field} is larger than 2^53 - 1 and cannot travel exactly as a JSON number; send it as a decimal string.`);
    serial = BigInt(value);
  } else if (typeof value === 'string') {
    const text = value.trim();
    if (!SERIAL_DECIMAL.test(text)) throw badRequest(`${field} must be a decimal serial number.`);
    serial = BigInt(text);
  } else if (Array.isArray(value)) {
    serial = BigInt(`0x${Buffer.from(bytesOf(value, field, 32)).toString('hex')}`);
  } else {
    throw badRequest(`${field} must be a serial number (a decimal string, a JSON number or a big-endian byte array).`);
  }
  if (!isSerialInRange(serial)) throw badRequest(`${field} must be a positive serial number of at most 20 octets.`);
  return serial.toString();
}

function bytesOf(value: unknown[], field: string, maxLength: number): Uint8Array {
  if (value.length === 0 || value.length > maxLength) throw badRequest(`${field} must be an array of 1 to ${maxLength} bytes.`);
  if (!value.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255)) {
    throw badRequest(`${field} must be an array of integers from 0 to 255.`);
  }
  return Uint8Array.from(value as number[]);
}

/**
 * The encryption algorithms of one item as dotted OIDs, from any of the three encodings: OID
 * strings (beta.3), one DER AlgorithmIdentifier as a byte array (polyproto-rs), or an array of
 * such byte arrays (2024-06 type doc). A lone OID string is accepted too.
 */
export function parseEncryptionAlgorithms(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  try {
    if (typeof value === 'string') return [parseDottedOid(value, field)];
    if (!Array.isArray(value)) throw badRequest(`${field} must be an array of OID strings or of DER AlgorithmIdentifier byte arrays.`);
    if (value.length > 0 && value.every((v) => typeof v === 'number')) return [derOid(value, field)];
    if (value.length > MAX_ALGORITHMS_PER_ITEM) throw badRequest(`${field} lists more than ${MAX_ALGORITHMS_PER_ITEM} algorithms.`);
    return value.map((v: unknown, i) => {
      if (typeof v === 'string') return parseDottedOid(v, `${field}[${i}]`);
      if (Array.isArray(v)) return derOid(v, `${field}[${i}]`);
      throw badRequest(`${field}[${i}] must be an OID string or a DER AlgorithmIdentifier byte array.`);
    });
  } catch (error) {
    if (error instanceof PolyprotoError) throw badRequest(`${error.message}.`);
    throw error;
  }
}

function derOid(value: unknown[], field: string): string {
  return algorithmIdentifierOid(bytesOf(value, field, MAX_ALGORITHM_IDENTIFIER_BYTES), field);
}

/**
 * POST /session/keymaterial: one object or a non-empty array. Every element is checked here
 * before anything is sent (all or nothing): 400 for a missing or malformed field, 413 when a
 * `key_data` is longer than `maxBytes` in UTF-8 bytes of the PEM text as sent.
 */
export function parseKeyMaterialUpload(body: unknown, maxBytes: number): KeyMaterialItem[] {
  if (body === undefined || body === null || body === '') throw badRequest('The body must be a key material object or a non-empty array of them.');
  const elements = Array.isArray(body) ? body : [body];
  if (elements.length === 0) throw badRequest('The body is an empty array; send at least one key material object.');
  return elements.map((element: unknown, i) => {
    const at = Array.isArray(body) ? `[${i}]` : 'body';
    if (typeof element !== 'object' || element === null || Array.isArray(element)) throw badRequest(`${at} must be a JSON object with key_data and serial_number.`);
    const fields = element as Fields;
    const serialValue = fields.serial_number ?? fields.serialNumber;
    if (serialValue === undefined || serialValue === null) throw badRequest(`${at} has no serial_number: key material is stored per ID-Cert serial.`);
    const serial = parseSerial(serialValue, `${at}.serial_number`);
    const keyData = fields.key_data ?? fields.keyData;
    if (typeof keyData !== 'string' || keyData.trim() === '') throw badRequest(`${at}.key_data must be a non-empty string (PEM).`);
    const bytes = Buffer.byteLength(keyData, 'utf8');
    if (bytes > maxBytes) {
      throw new ApiError(413, ERROR_CODE.payloadTooLarge, `${at}.key_data is ${bytes} bytes (UTF-8); this server takes at most ${maxBytes} per item.`);
    }
    const rawAlgorithms = fields.encryption_algorithms ?? fields.encryptionAlgorithms ?? fields.encryption_algorithm;
    const encryptionAlgorithms = parseEncryptionAlgorithms(rawAlgorithms, `${at}.encryption_algorithms`);
    return {
      serial,
      keyData,
      encryptionAlgorithms,
      ...(rawAlgorithms === undefined || rawAlgorithms === null ? {} : { rawEncryptionAlgorithms: rawAlgorithms }),
    };
  });
}

/**
 * The serials a GET or DELETE is about: `?serials=1,2,3` (beta.3; repeated parameters too), else the
 * body: `{serial_numbers: [...]}` (2024), a bare array (mid-2024 strings, polyproto-rs numbers) or a
 * lone serial. The query wins. Undefined when none is given. Duplicates are dropped.
 */
export function parseSerialSelection(query: Fields, body: unknown): string[] | undefined {
  let raw: unknown[] | undefined;
  const fromQuery = query.serials ?? query.serial_numbers;
  if (fromQuery !== undefined) {
    const parts = (Array.isArray(fromQuery) ? fromQuery : [fromQuery]).flatMap((v) => String(v).split(','));
    raw = parts.map((p) => p.trim()).filter((p) => p !== '');
  } else if (Array.isArray(body)) {
    raw = body;
  } else if (typeof body === 'number' || typeof body === 'string') {
    raw = body === '' ? undefined : [body];
  } else if (typeof body === 'object' && body !== null) {
    const fields = body as Fields;
    const list = fields.serial_numbers ?? fields.serialNumbers ?? fields.serials;
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list)) throw badRequest('serial_numbers must be an array of serial numbers.');
      raw = list;
    }
  } else if (body !== undefined && body !== null) {
    throw badRequest('The body must be an array of serial numbers or {"serial_numbers": [...]}.');
  }
  if (raw === undefined || raw.length === 0) return undefined;
  return [...new Set(raw.map((value, i) => parseSerial(value, `serial_numbers[${i}]`)))];
}

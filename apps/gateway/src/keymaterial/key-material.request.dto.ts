import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsArray, IsOptional, IsString, isString, Matches, matches, ValidateBy, type ValidationOptions } from 'class-validator';
import { copiesAsIs, isStorableText, storableJsonProblem } from '@p2/contracts';
import { algorithmIdentifierOid, isSerialInRange, parseDottedOid, PolyprotoError, SERIAL_DECIMAL } from '@p2/polyproto';
import { AlsoNamed, isPlainObject, plainWholeBodyList, readAlsoNamed, registerPlainCheck, WholeBodyListOf } from '../http/request-validation';

/**
 * The request shapes of the key material routes (docs/protocol.md#key-material-shapes), all
 * normalised here so that the command and the read model only ever see decimal serials and dotted OIDs:
 *  - 2024:          `{key_data: "<PEM>", serial_number: "123"}` (one object or an array)
 *  - beta.3:        `[{key_data, serialNumber: 123, encryptionAlgorithms: ["1.2.3"]}]`
 *  - polyproto-rs:  `[{serial_number: [bytes, big-endian], key_data, encryption_algorithm: [DER bytes]}]`
 *  - 2024-06 types: `encryption_algorithms: [[DER bytes], ...]`
 */

/** Bounds on one item's algorithm list (real lists hold one to three). The list is also stored as
 * sent, as JSON the certstore takes only up to the size and depth of storableJsonProblem's defaults
 * (16384 characters as re-serialised): checked here too, so that the answer names the request's
 * field, not the command's. */
export const MAX_ALGORITHMS_PER_ITEM = 16;
export const MAX_ALGORITHM_IDENTIFIER_BYTES = 1024;

class Refused extends Error {}

function bytesOf(value: unknown[], maxLength: number): Uint8Array {
  if (value.length === 0 || value.length > maxLength) throw new Refused(`must be an array of 1 to ${maxLength} bytes`);
  if (!value.every((b) => typeof b === 'number' && Number.isInteger(b) && b >= 0 && b <= 255)) throw new Refused('must be an array of integers from 0 to 255');
  return Uint8Array.from(value as number[]);
}

/** A serial as a JSON number, a decimal string or a big-endian byte array → canonical decimal. */
function serialOf(value: unknown): string {
  let serial: bigint;
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Refused('must be a whole number');
    if (!Number.isSafeInteger(value)) throw new Refused('is larger than 2^53 - 1 and cannot travel exactly as a JSON number; send it as a decimal string');
    serial = BigInt(value);
  } else if (typeof value === 'string') {
    if (!SERIAL_DECIMAL.test(value.trim())) throw new Refused('must be a decimal serial number');
    serial = BigInt(value.trim());
  } else if (Array.isArray(value)) {
    serial = BigInt(`0x${Buffer.from(bytesOf(value, 32)).toString('hex')}`);
  } else {
    throw new Refused('must be a serial number (a decimal string, a JSON number or a big-endian byte array)');
  }
  if (!isSerialInRange(serial)) throw new Refused('must be a positive serial number of at most 20 octets');
  return serial.toString();
}

/** The encryption algorithms of one item as dotted OIDs, from any of the three encodings. */
export function encryptionAlgorithmsOf(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  try {
    const problem = storableJsonProblem(value);
    if (problem !== undefined) throw new Refused(problem);
    if (typeof value === 'string') return [parseDottedOid(value, 'the OID')];
    if (!Array.isArray(value)) throw new Refused('must be an array of OID strings or of DER AlgorithmIdentifier byte arrays');
    if (value.length > 0 && value.every((v) => typeof v === 'number')) return [derOid(value)];
    if (value.length > MAX_ALGORITHMS_PER_ITEM) throw new Refused(`lists more than ${MAX_ALGORITHMS_PER_ITEM} algorithms`);
    return value.map((v: unknown) => {
      if (typeof v === 'string') return parseDottedOid(v, 'the OID');
      if (Array.isArray(v)) return derOid(v);
      throw new Refused('must hold OID strings or DER AlgorithmIdentifier byte arrays');
    });
  } catch (error) {
    if (error instanceof PolyprotoError) throw new Refused(`is malformed: ${error.message}`);
    throw error;
  }
}

function derOid(value: unknown[]): string {
  return algorithmIdentifierOid(bytesOf(value, MAX_ALGORITHM_IDENTIFIER_BYTES), 'the AlgorithmIdentifier');
}

function refusal(read: (value: unknown) => unknown, value: unknown): string | undefined {
  try {
    read(value);
    return undefined;
  } catch (error) {
    if (error instanceof Refused) return error.message;
    throw error;
  }
}

const Reads = (name: string, read: (value: unknown) => unknown, options?: ValidationOptions) =>
  ValidateBy({
    name,
    validator: { validate: (value: unknown) => refusal(read, value) === undefined, defaultMessage: (args) => refusal(read, args?.value) ?? 'is malformed' },
  }, options);

/** A valid serial in its canonical decimal form; anything else stays as sent for the check. */
const canonicalSerial = (value: unknown) => (refusal(serialOf, value) === undefined ? serialOf(value) : value);

/** The other names of an item's fields (AlsoNamed), and what key_data must hold. */
const KEY_DATA_ALIASES = ['keyData'];
const SERIAL_ALIASES = ['serialNumber'];
/** Every name an item's serial is read under: a JSON number beyond 2^53 − 1 in them is read exactly (ExactIntegersIn). */
export const SERIAL_FIELD_NAMES: readonly string[] = ['serial_number', ...SERIAL_ALIASES];
const ALGORITHMS_ALIASES = ['encryptionAlgorithms', 'encryption_algorithm'];
const NOT_BLANK = /\S/;
/** PostgreSQL's text refuses NUL, and a lone surrogate cannot be stored as sent; the certstore
 * refuses both (IsStorableText), so the gateway does first, naming the request's field. */
const STORABLE_KEY_DATA = 'must not contain a NUL character or an unpaired surrogate';
const IsStorableKeyData = () =>
  // a value that is no string is IsString's to refuse, with its message
  ValidateBy({ name: 'storableKeyData', validator: { validate: (value: unknown) => typeof value !== 'string' || isStorableText(value), defaultMessage: () => STORABLE_KEY_DATA } });

/** One item of `POST /session/keymaterial`, in any of the shapes above. */
export class KeyMaterialItemDto {
  @ApiProperty({ example: '-----BEGIN ENCRYPTED PRIVATE KEY-----\n…', description: 'PEM text (also `keyData`); at most P2_KEYMATERIAL_MAX_BYTES UTF-8 bytes (413 beyond)' })
  @AlsoNamed(KEY_DATA_ALIASES)
  @IsString()
  @Matches(NOT_BLANK, { message: 'must be a non-empty string (PEM)' })
  @IsStorableKeyData()
  readonly key_data!: string;

  @ApiProperty({ example: '4019383941', description: 'the ID-Cert serial (also `serialNumber`): a decimal string, a JSON number up to 2^53 − 1, or big-endian bytes' })
  @AlsoNamed(SERIAL_ALIASES, canonicalSerial)
  @Reads('serial', serialOf)
  readonly serial_number!: string;

  @ApiPropertyOptional({
    example: ['1.2.840.113549.1.5.13'],
    description: 'dotted OID strings, one DER AlgorithmIdentifier as a byte array, or an array of those (also `encryptionAlgorithms`, `encryption_algorithm`)',
  })
  @AlsoNamed(ALGORITHMS_ALIASES)
  @IsOptional()
  @Reads('encryptionAlgorithms', encryptionAlgorithmsOf)
  readonly encryption_algorithms?: unknown;
}

/** `POST /session/keymaterial`: the whole body, one item or a non-empty array of them; all are
 * checked before anything is stored. */
export class KeyMaterialUploadDto {
  @ApiProperty({ type: [KeyMaterialItemDto], description: 'the whole body: one item or an array of them' })
  @WholeBodyListOf(() => KeyMaterialItemDto)
  readonly body!: KeyMaterialItemDto[];
}

/** The decorators of KeyMaterialItemDto as one function: the DTO the full pipe would return when
 * every field passes, else undefined. Each field is read as AlsoNamed reads it; other fields are
 * kept, as class-transformer keeps them, so the item must be one it copies unchanged. */
function plainKeyMaterialItem(value: unknown): KeyMaterialItemDto | undefined {
  if (!isPlainObject(value) || !copiesAsIs(value)) return undefined;
  const keyData = readAlsoNamed(value, ['key_data', ...KEY_DATA_ALIASES]);
  if (!isString(keyData) || !matches(keyData, NOT_BLANK) || !isStorableText(keyData)) return undefined;
  const serial = canonicalSerial(readAlsoNamed(value, ['serial_number', ...SERIAL_ALIASES]));
  if (refusal(serialOf, serial) !== undefined) return undefined;
  // IsOptional: an absent list (AlsoNamed reads null as absent) is not checked
  const algorithms = readAlsoNamed(value, ['encryption_algorithms', ...ALGORITHMS_ALIASES]);
  if (algorithms !== undefined && refusal(encryptionAlgorithmsOf, algorithms) !== undefined) return undefined;
  return Object.assign(new KeyMaterialItemDto(), value, { key_data: keyData, serial_number: serial, encryption_algorithms: algorithms });
}

registerPlainCheck(KeyMaterialUploadDto, (request) => {
  const items = plainWholeBodyList(request, 'body', plainKeyMaterialItem);
  return items && Object.assign(new KeyMaterialUploadDto(), { body: items });
});

/** `?serials=1,2,3` (repeated too) or `serial_numbers`, or a JSON body: a bare array, a lone
 * serial, or `{"serial_numbers": [...]}`; the query wins. Undefined when none is given. */
function serialList(value: unknown): unknown {
  if (value === undefined || value === null || value === '') return undefined;
  const list = (Array.isArray(value) ? value : [value]).flatMap((v: unknown) => (typeof v === 'string' ? v.split(',').map((p) => p.trim()).filter((p) => p !== '') : [v]));
  return list.length === 0 ? undefined : list.map(canonicalSerial);
}

/** The other names of `serials` (AlsoNamed, and ListBodyAs so that the query wins under any of them). */
export const SERIAL_LIST_ALIASES: readonly string[] = ['serial_numbers', 'serialNumbers'];
/** Every name the list is read under: a JSON number beyond 2^53 − 1 in it is read exactly (ExactIntegersIn). */
export const SERIAL_LIST_NAMES: readonly string[] = ['serials', ...SERIAL_LIST_ALIASES];

/** `GET` and `DELETE /session/keymaterial`: which serials. */
export class SerialSelectionDto {
  @ApiPropertyOptional({
    type: String,
    example: '4019383941,4019383942',
    description: 'comma-separated decimal serials (also repeated, or as `serial_numbers`); or a JSON body: an array of serials (strings or numbers) or {"serial_numbers": [...]}',
  })
  @AlsoNamed(SERIAL_LIST_ALIASES, serialList)
  @IsOptional()
  @IsArray()
  @Reads('serial', serialOf, { each: true })
  readonly serials?: string[];
}

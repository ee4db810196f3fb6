import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsObject, IsOptional, ValidateNested } from 'class-validator';
import {
  copiesAsIs,
  decodeBase64,
  IsBase64Text,
  isBase64Text,
  IsKeyPackageLabel,
  isKeyPackageLabel,
  isOpaqueJsonData,
  IsStorableJson,
  KEY_PACKAGE_LIMITS,
  OpaqueJson,
  storableJsonProblem,
  type KeyPackageData,
} from '@p2/contracts';
import { isPlainObject, IsWholeBody, plainWholeBodyList, registerOpaqueValues, registerPlainCheck, WholeBodyListOf, wholeBodyOf } from '../http/request-validation';

/** One KeyPackage as clients send and receive it (docs/protocol.md#key-package-format); other
 * fields are ignored. */
export class KeyPackageDto {
  @ApiProperty({ example: 'mls10', description: `printable ASCII, at most ${KEY_PACKAGE_LIMITS.labelMaxChars} characters` })
  @IsKeyPackageLabel()
  readonly protocol_version!: string;

  @ApiProperty({ example: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', description: `printable ASCII, at most ${KEY_PACKAGE_LIMITS.labelMaxChars} characters` })
  @IsKeyPackageLabel()
  readonly cipher_suite!: string;

  @ApiProperty({
    example: 'q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=',
    description: `base64 (standard or URL-safe, padding optional), at most ${KEY_PACKAGE_LIMITS.initKeyMaxChars} characters; stored as standard padded base64, unique over every KeyPackage this server ever stored`,
  })
  @IsBase64Text(KEY_PACKAGE_LIMITS.initKeyMaxChars)
  readonly init_key!: string;

  @ApiProperty({ example: 'AAEAAgADAAQ=', description: `base64, at most ${KEY_PACKAGE_LIMITS.leafNodeMaxChars} characters` })
  @IsBase64Text(KEY_PACKAGE_LIMITS.leafNodeMaxChars)
  readonly leaf_node!: string;

  @ApiPropertyOptional({ example: [], description: 'any JSON (null when absent), at most 16384 characters and depth 32; stored and handed out as sent, any key included' })
  @OpaqueJson()
  @IsOptional()
  @IsStorableJson()
  readonly extensions?: unknown;
}

/** `POST /keypackage/@me`: the whole body, a JSON array of KeyPackages (a single object counts as one). */
export class KeyPackagesUploadDto {
  @ApiProperty({ type: [KeyPackageDto], description: `1 to ${KEY_PACKAGE_LIMITS.perRequest} KeyPackages: the whole body is this array` })
  @WholeBodyListOf(() => KeyPackageDto)
  readonly key_packages!: KeyPackageDto[];
}

/** `PUT /keypackage_lr`: the whole body, one KeyPackage (an array holding exactly one is accepted too). */
export class LastResortUploadDto {
  @ApiProperty({ type: KeyPackageDto, description: 'the whole body is this KeyPackage' })
  @IsWholeBody()
  @Transform(({ value }: { value: unknown }) => (Array.isArray(value) && value.length === 1 ? value[0] : value))
  @IsObject()
  @ValidateNested()
  @Type(() => KeyPackageDto)
  readonly key_package!: KeyPackageDto;
}

/** A KeyPackage as the command carries it: init_key in its one canonical spelling. */
export function toKeyPackageData(p: KeyPackageDto): KeyPackageData {
  return {
    protocolVersion: p.protocol_version,
    cipherSuite: p.cipher_suite,
    initKey: decodeBase64(p.init_key)!.toString('base64'),
    leafNode: p.leaf_node,
    extensions: p.extensions === undefined ? null : p.extensions,
  };
}

export function toWire(p: KeyPackageData): KeyPackageDto {
  return { protocol_version: p.protocolVersion, cipher_suite: p.cipherSuite, init_key: p.initKey, leaf_node: p.leafNode, extensions: p.extensions };
}

/** The decorators of KeyPackageDto as one function: the DTO when every field passes, else undefined.
 * A value the full pipe would not copy unchanged (a key it strips against prototype pollution or
 * does not copy, at any depth: copiesAsIs) is left to it, so that both paths return the same DTO;
 * `extensions` is opaque, taken as it is by both, whatever its keys. */
function plainKeyPackage(value: unknown): KeyPackageDto | undefined {
  if (!isPlainObject(value) || !copiesAsIs({ ...value, extensions: null })) return undefined;
  const { protocol_version, cipher_suite, init_key, leaf_node, extensions } = value;
  if (!isKeyPackageLabel(protocol_version) || !isKeyPackageLabel(cipher_suite)) return undefined;
  if (!isBase64Text(init_key, KEY_PACKAGE_LIMITS.initKeyMaxChars) || !isBase64Text(leaf_node, KEY_PACKAGE_LIMITS.leafNodeMaxChars)) return undefined;
  // IsOptional: null and undefined are not checked
  if (extensions !== undefined && extensions !== null && (!isOpaqueJsonData(extensions) || storableJsonProblem(extensions) !== undefined)) return undefined;
  // other fields are ignored, and kept as class-transformer keeps them
  return Object.assign(new KeyPackageDto(), value);
}

registerPlainCheck(KeyPackagesUploadDto, (request) => {
  const keyPackages = plainWholeBodyList(request, 'key_packages', plainKeyPackage);
  return keyPackages && Object.assign(new KeyPackagesUploadDto(), { key_packages: keyPackages });
});

registerPlainCheck(LastResortUploadDto, (request) => {
  const whole = wholeBodyOf(request, 'key_package');
  if (!whole) return undefined;
  const value = whole.body;
  const keyPackage = plainKeyPackage(Array.isArray(value) && value.length === 1 ? value[0] : value);
  return keyPackage && Object.assign(new LastResortUploadDto(), { key_package: keyPackage });
});

/** The `extensions` of each package of a whole body (`{[field]: one package or a list}`). */
function* extensionsIn(request: unknown, field: string): Iterable<unknown> {
  const whole = wholeBodyOf(request, field);
  if (!whole) return;
  for (const item of Array.isArray(whole.body) ? whole.body : [whole.body]) {
    if (isPlainObject(item) && Object.hasOwn(item, 'extensions')) yield item.extensions;
  }
}

registerOpaqueValues(KeyPackagesUploadDto, (request) => extensionsIn(request, 'key_packages'));
registerOpaqueValues(LastResortUploadDto, (request) => extensionsIn(request, 'key_package'));

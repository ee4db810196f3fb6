import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Expose, plainToInstance, Transform } from 'class-transformer';
import { IsDefined, IsNotEmpty, IsObject, IsOptional, IsString, Matches, ValidateBy, ValidateNested } from 'class-validator';
import { ERROR_CODE } from '@p2/contracts';

const MALFORMED_CERT = { context: { code: ERROR_CODE.malformedCert } };

/** The 64 signature bytes from hex (what polyproto-rs produces: 128 digits) or base64 / base64url
 * (86 characters, or 88 with padding); undefined for anything else. */
function signatureBytes(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (/^[0-9a-fA-F]{128}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/_-]{86}(==)?$/.test(text)) {
    const bytes = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (bytes.length === 64) return bytes;
  }
  return undefined;
}

const SIGNATURE_MESSAGE = 'must be the 64 signature bytes as 128 hex digits or as base64 / base64url';

export class CompletedChallengeDto {
  @ApiProperty({ example: 'aZ3…(the string from GET /challenge)' })
  @IsString()
  @IsNotEmpty()
  readonly challenge!: string;

  /** Decoded here: the route sees the bytes, whichever encoding the client chose. */
  @ApiProperty({ type: String, example: '<128 hex digits>', description: 'Ed25519 over the UTF-8 bytes of the challenge: 128 hex digits, or base64 / base64url' })
  @Transform(({ value }: { value: unknown }) => signatureBytes(value) ?? value)
  @IsDefined({ message: `is required: it ${SIGNATURE_MESSAGE}` })
  @ValidateBy({ name: 'signature', validator: { validate: (value: unknown) => value instanceof Uint8Array, defaultMessage: () => SIGNATURE_MESSAGE } })
  readonly signature!: Uint8Array;
}

/** What is not an object (a string, an array) stays as sent, for the checks to refuse. */
const isFields = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The completed challenge in any of the three forms of docs/protocol.md#identify: `completed_challenge`
 * (the 2024 example), `challenge` as an object, or `challenge` and `signature` at the top level
 * (the 2024 table). Built into the DTO here, since class-transformer converts only what it finds
 * under the field's own name.
 */
function completedChallengeOf(body: Record<string, unknown>): unknown {
  const { completed_challenge: nested, challenge, signature } = body;
  let value: unknown;
  if (nested !== undefined && nested !== null) value = nested;
  else if (isFields(challenge)) value = challenge;
  else if (challenge !== undefined || signature !== undefined) value = { challenge, signature };
  return isFields(value) ? plainToInstance(CompletedChallengeDto, value) : value;
}

/** `POST /session/identify` (docs/protocol.md#identify). Fields are checked in the protocol's
 * order: the challenge, then the auth payload, then the cert (its parsing and the rest are the
 * route's). */
export class IdentifyRequestDto {
  @ApiProperty({
    type: CompletedChallengeDto,
    description: 'also as `challenge` (an object of the same shape), or as `challenge` (the string) and `signature` at the top level',
  })
  @Expose()
  @Transform(({ obj }: { obj: Record<string, unknown> }) => completedChallengeOf(obj))
  @IsDefined({ message: 'is required: {"challenge": "…", "signature": "<hex>"} (or `challenge` and `signature` at the top level)' })
  @IsObject({ message: 'must be an object {challenge, signature}' })
  @ValidateNested()
  readonly completed_challenge!: CompletedChallengeDto;

  @ApiPropertyOptional({ type: Object, example: {}, description: 'accepted and not needed; an object if present' })
  @IsOptional()
  @IsObject()
  readonly auth_payload?: Record<string, unknown>;

  @ApiProperty({ example: '-----BEGIN CERTIFICATE-----\n…', description: 'PEM, a JSON string holding the PEM, or base64 DER' })
  @IsString(MALFORMED_CERT)
  @Matches(/\S/, { message: 'must be a non-empty string (PEM or base64 DER)', ...MALFORMED_CERT })
  readonly id_cert!: string;
}

import { ApiHideProperty, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Expose, plainToInstance, Transform } from 'class-transformer';
import { IsDefined, IsNotEmpty, IsObject, IsOptional, IsString, Matches, ValidateBy, ValidateIf, ValidateNested } from 'class-validator';
import { ERROR_CODE } from '@p2/contracts';
import { IsWholeBody } from '../http/request-validation';

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

const asChallengeDto = (value: unknown): unknown => (isFields(value) ? plainToInstance(CompletedChallengeDto, value) : value);

/**
 * Which of the three forms of docs/protocol.md#identify carries the completed challenge:
 * `completed_challenge` (the 2024 example), `challenge` as an object, or `challenge` and `signature`
 * at the top level (the 2024 table); `none` when the body has none of them. Read from the body and
 * from the DTO alike (both hold the fields under the names sent).
 */
function formOf(fields: { completed_challenge?: unknown; challenge?: unknown; signature?: unknown }): 'nested' | 'object' | 'flat' | 'none' {
  if (fields.completed_challenge !== undefined && fields.completed_challenge !== null) return 'nested';
  if (isFields(fields.challenge)) return 'object';
  return fields.challenge !== undefined || fields.signature !== undefined ? 'flat' : 'none';
}

/** `POST /session/identify` (docs/protocol.md#identify). Fields are checked in the protocol's
 * order: the challenge, then the auth payload, then the cert (its parsing and the rest are the
 * route's). Each form is checked under the names it was sent with, so a refusal names the field
 * as the client wrote it. */
export class IdentifyRequestDto {
  @ApiPropertyOptional({
    type: CompletedChallengeDto,
    description: 'the completed challenge; also as `challenge` (an object of the same shape), or as `challenge` (the string) and `signature` at the top level',
  })
  @Expose()
  @Transform(({ value }: { value: unknown }) => asChallengeDto(value))
  @ValidateIf((dto: IdentifyRequestDto) => formOf(dto) === 'nested' || formOf(dto) === 'none')
  @IsDefined({ message: 'is required: {"challenge": "…", "signature": "<hex>"} (or `challenge` and `signature` at the top level)' })
  @IsObject({ message: 'must be an object {challenge, signature}' })
  @ValidateNested()
  readonly completed_challenge?: CompletedChallengeDto;

  @ApiPropertyOptional({ description: 'the completed challenge as an object {challenge, signature}, or the challenge string with `signature` beside it' })
  @Transform(({ value }: { value: unknown }) => asChallengeDto(value))
  @ValidateIf((dto: IdentifyRequestDto) => formOf(dto) === 'object')
  @ValidateNested()
  readonly challenge?: CompletedChallengeDto | string;

  @ApiPropertyOptional({ type: String, description: 'with `challenge` as a string: its signature, as in `completed_challenge`' })
  readonly signature?: unknown;

  /** The top-level `challenge` and `signature` as one challenge, checked as the whole body so that a
   * refusal names them as sent (`signature`, not a field the client never wrote). */
  @ApiHideProperty()
  @Expose()
  @Transform(({ obj }: { obj: Record<string, unknown> }) => (formOf(obj) === 'flat' ? plainToInstance(CompletedChallengeDto, { challenge: obj.challenge, signature: obj.signature }) : undefined))
  @ValidateIf((dto: IdentifyRequestDto) => formOf(dto) === 'flat')
  @IsWholeBody()
  @ValidateNested()
  readonly topLevelChallenge?: CompletedChallengeDto;

  @ApiPropertyOptional({ type: Object, example: {}, description: 'accepted and not needed; an object if present' })
  @IsOptional()
  @IsObject()
  readonly auth_payload?: Record<string, unknown>;

  @ApiProperty({ example: '-----BEGIN CERTIFICATE-----\n…', description: 'PEM, a JSON string holding the PEM, or base64 DER' })
  @IsString(MALFORMED_CERT)
  @Matches(/\S/, { message: 'must be a non-empty string (PEM or base64 DER)', ...MALFORMED_CERT })
  readonly id_cert!: string;
}

/** The completed challenge of a checked request, whichever form carried it. */
export function completedChallengeOf(request: IdentifyRequestDto): CompletedChallengeDto {
  const form = formOf(request);
  const challenge = form === 'nested' ? request.completed_challenge : form === 'object' ? request.challenge : request.topLevelChallenge;
  if (!(challenge instanceof CompletedChallengeDto)) throw new Error('identify: the request was not checked');
  return challenge;
}

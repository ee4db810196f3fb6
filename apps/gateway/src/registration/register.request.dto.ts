import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsString, Length, ValidateNested } from 'class-validator';
import { ERROR_CODE } from '@p2/contracts';
import { normalizeLocalName } from '@p2/polyproto';
import { NormalisedBy, PassesRule } from '../http/request-validation';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

export class NewPasswordDto {
  @ApiProperty({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, example: 'correct horse battery staple' })
  @Length(PASSWORD_MIN, PASSWORD_MAX)
  // checked first (the pipe stops at the first failure, and checks run from the property up): a
  // number is refused as no string, not as too short
  @IsString()
  readonly password!: string;
}

/** `POST /register`: a new identity (docs/protocol.md#actor-names). */
export class RegisterRequestDto {
  @ApiProperty({ example: 'alice', description: 'the local name, case-insensitive (stored lowercased)' })
  @NormalisedBy(normalizeLocalName)
  @PassesRule('actorName', normalizeLocalName, ERROR_CODE.invalidActorName)
  readonly actor_name!: string;

  @ApiProperty({ type: NewPasswordDto })
  @IsObject()
  @ValidateNested()
  @Type(() => NewPasswordDto)
  readonly auth_payload!: NewPasswordDto;
}

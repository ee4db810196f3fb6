import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsString, Length, ValidateBy, ValidateNested } from 'class-validator';
import { ERROR_CODE } from '@p2/contracts';
import { normalizeLocalName } from '@p2/polyproto';
import { NormalisedBy, PassesRule } from '../http/request-validation';

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 1024;

/** Why a new password is refused for what the X-P2-Sensitive-Solution header cannot carry, or
 * undefined. A sensitive action carries the password in that header: HTTP strips whitespace around a
 * header value (RFC 9110 §5.5; Node does), and a header value cannot hold a control character but a
 * tab (RFC 9110 §5.5; Node's parser and client refuse them). Such a password would sign in (JSON
 * body) but never pass a sensitive action, and every attempt would count toward the lock-out
 * (docs/protocol.md#password-rules). Only where a password is set: passwords already stored are
 * checked at sign-in as they are. */
export function passwordHeaderFailure(password: string): string | undefined {
  if (/^\s|\s$/u.test(password)) {
    return 'must not begin or end with whitespace (a space, a tab, a line break): sensitive actions send the password in the X-P2-Sensitive-Solution header, whose surrounding whitespace HTTP strips';
  }
  // eslint-disable-next-line no-control-regex -- the control characters are what is refused
  if (/[\u0000-\u0008\u000a-\u001f\u007f]/u.test(password)) {
    return 'must not contain a control character (a line break, NUL, DEL; a tab inside is fine): sensitive actions send the password in the X-P2-Sensitive-Solution header, which cannot carry one';
  }
  return undefined;
}

export class NewPasswordDto {
  @ApiProperty({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX, example: 'correct horse battery staple', description: 'no whitespace at its start or end, no control character but a tab' })
  @ValidateBy({
    name: 'passwordInHeader',
    validator: { validate: (value: unknown) => typeof value !== 'string' || passwordHeaderFailure(value) === undefined, defaultMessage: (args) => passwordHeaderFailure(String(args?.value)) ?? 'is malformed' },
  })
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

import { ApiProperty } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsNotEmpty, IsObject, IsString, ValidateNested } from 'class-validator';
import { validateSessionId } from '@p2/polyproto';
import { PassesRule } from '../http/request-validation';

export class PasswordDto {
  @ApiProperty({ example: 'correct horse battery staple' })
  @IsString()
  @IsNotEmpty()
  readonly password!: string;
}

/** `POST /session/trust`: password + ID-CSR. A malformed name is refused as wrong credentials by
 * the route, not here, so that nothing tells which of the two was wrong. */
export class TrustRequestDto {
  @ApiProperty({ example: 'alice' })
  @IsString()
  @IsNotEmpty()
  readonly actor_name!: string;

  @ApiProperty({ example: '-----BEGIN CERTIFICATE REQUEST-----…', description: 'the ID-CSR, PEM or base64 DER' })
  @IsString()
  @IsNotEmpty()
  readonly csr!: string;

  @ApiProperty({ type: PasswordDto })
  @IsObject()
  @ValidateNested()
  @Type(() => PasswordDto)
  readonly auth_payload!: PasswordDto;
}

/** `DELETE /session`: the session to delete, in the query or a JSON body. */
export class DeleteSessionRequestDto {
  @ApiProperty({ example: 'laptop-1' })
  @PassesRule('sessionId', validateSessionId)
  readonly session_id!: string;
}

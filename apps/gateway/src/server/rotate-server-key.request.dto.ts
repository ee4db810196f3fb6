import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional } from 'class-validator';

/** `PUT`/`POST /key/server`: `compromised` in the query or a JSON body, `true`/`false` as JSON or text. */
export class RotateServerKeyRequestDto {
  @ApiPropertyOptional({ type: Boolean, default: false, description: 'true invalidates every actor cert of the old root' })
  @Transform(({ value }: { value: unknown }) => (value === 'true' ? true : value === 'false' ? false : value === '' || value === null ? undefined : value))
  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  readonly compromised?: boolean;
}

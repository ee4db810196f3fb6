import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { validateSessionId } from '@p2/polyproto';
import { EmptyIsAbsent, PassesRule, UnixSeconds } from '../http/request-validation';

/** `GET /key/actor/:fid`: which of an actor's ID-Certs (each field in the query or in a JSON body,
 * docs/protocol.md#query-wins). The 2024 route never had the range: a `notBefore`/`notAfter` sent
 * to it is ignored like any other unknown field (docs/protocol.md#route-key-actor). */
export class ActorCertsAtTimeRequestDto {
  @ApiPropertyOptional({ type: Number, example: 1764300000, description: 'UNIX seconds: the certs valid at that time, from the history' })
  @UnixSeconds()
  readonly timestamp?: number;

  @ApiPropertyOptional({ description: 'only the certs of this session ID' })
  @EmptyIsAbsent()
  @IsOptional()
  @PassesRule('sessionId', validateSessionId)
  readonly session_id?: string;
}

/** `GET /idcert/actor/:fid`: the same, or (beta.3) the certs overlapping a range. */
export class ActorCertsRequestDto extends ActorCertsAtTimeRequestDto {
  @ApiPropertyOptional({ type: Number, description: 'UNIX seconds: certs still valid at or after this instant' })
  @UnixSeconds()
  readonly notBefore?: number;

  @ApiPropertyOptional({ type: Number, description: 'UNIX seconds: certs already valid at or before this instant' })
  @UnixSeconds()
  readonly notAfter?: number;
}

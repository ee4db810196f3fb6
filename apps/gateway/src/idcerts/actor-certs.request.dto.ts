import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { validateSessionId } from '@p2/polyproto';
import { EmptyIsAbsent, PassesRule, UnixSeconds } from '../http/request-validation';

/** `GET /key/actor/:fid`, `GET /idcert/actor/:fid`: which of an actor's ID-Certs (each field in the
 * query or in a JSON body, docs/protocol.md#query-wins). */
export class ActorCertsRequestDto {
  @ApiPropertyOptional({ type: Number, example: 1764300000, description: 'UNIX seconds: the certs valid at that time, from the history' })
  @UnixSeconds()
  readonly timestamp?: number;

  @ApiPropertyOptional({ type: Number, description: 'UNIX seconds: certs still valid at or after this instant (GET /idcert/actor only)' })
  @UnixSeconds()
  readonly notBefore?: number;

  @ApiPropertyOptional({ type: Number, description: 'UNIX seconds: certs already valid at or before this instant (GET /idcert/actor only)' })
  @UnixSeconds()
  readonly notAfter?: number;

  @ApiPropertyOptional({ description: 'only the certs of this session ID' })
  @EmptyIsAbsent()
  @IsOptional()
  @PassesRule('sessionId', validateSessionId)
  readonly session_id?: string;
}

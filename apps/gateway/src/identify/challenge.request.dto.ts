import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { parseFederationId, validateSessionId } from '@p2/polyproto';
import { EmptyIsAbsent, NormalisedBy, PassesRule } from '../http/request-validation';

/** `GET /challenge`: optional bindings, in the query or a JSON body. */
export class ChallengeRequestDto {
  @ApiPropertyOptional({ example: 'alice@example.com', description: 'only this actor may use the challenge' })
  @EmptyIsAbsent()
  @NormalisedBy(parseFederationId)
  @IsOptional()
  @PassesRule('federationId', parseFederationId)
  readonly fid?: string;

  @ApiPropertyOptional({ description: 'only a cert of this session ID may use the challenge' })
  @EmptyIsAbsent()
  @IsOptional()
  @PassesRule('sessionId', validateSessionId)
  readonly session_id?: string;
}

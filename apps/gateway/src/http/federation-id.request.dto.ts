import { ApiProperty } from '@nestjs/swagger';
import { parseFederationId } from '@p2/polyproto';
import { NormalisedBy, PassesRule } from './request-validation';

/** A route path naming an actor: `/…/:fid`, percent-encoded or not, decoded once by the router
 * (docs/protocol.md#federation-ids); lowercased. */
export class FederationIdPathDto {
  @ApiProperty({ example: 'alice@example.com', description: 'the federation ID (name@domain), may be percent-encoded' })
  @NormalisedBy(parseFederationId)
  @PassesRule('federationId', parseFederationId)
  readonly fid!: string;
}

import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE } from '@p2/contracts';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import type { CacheableIdCert } from '@p2/polyproto';
import { actorCerts, actorExists, currentCacheWindow, type ActorCertRow } from '@p2/read-models';
import { ApiError, badRequest } from '../http/api-error';
import { FederationIdPathDto } from '../http/federation-id.request.dto';
import { ReadDatabase } from '../read-models/read-database';
import { ActorCertsAtTimeRequestDto, ActorCertsRequestDto } from './actor-certs.request.dto';

/** The 2025 cacheable object plus the 2024 `{id_cert, invalidated}` fields (docs/protocol.md#route-idcert-actor: one shape
 * that polyproto-rs 0.9 and 0.11 and beta.3 clients all read). */
export interface ActorIdCertObject extends CacheableIdCert {
  id_cert: string;
  invalidated: boolean;
}

@ApiTags('identity reads')
@Controller('.p2/core/v1')
export class ActorCertsController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly db: ReadDatabase,
  ) {}

  @Get('key/actor/:fid')
  @ApiOperation({
    summary:
      "An actor's ID-Certs, 2024 shape {idcerts, invalidated} (index-aligned), now or at `timestamp`, optionally for one `session_id`; a notBefore/notAfter range is ignored (GET /idcert/actor takes it).",
  })
  @ApiResponse({ status: 200, schema: { example: { idcerts: ['-----BEGIN CERTIFICATE-----…'], invalidated: [false] } } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 404, description: 'P2CORE_ACTOR_NOT_FOUND' })
  async keyActor(@Param() path: FederationIdPathDto, @Query() request: ActorCertsAtTimeRequestDto): Promise<{ idcerts: string[]; invalidated: boolean[] }> {
    // only the fields the 2024 route defines: a range the query or body carries is an unknown field here
    const { certs, at } = await this.select(path.fid, { timestamp: request.timestamp, session_id: request.session_id }, this.clock.now());
    return { idcerts: certs.map((c) => c.pem), invalidated: certs.map((c) => isInvalidated(c, at)) };
  }

  @Get('idcert/actor/:fid')
  @ApiOperation({
    summary:
      "An actor's ID-Certs as 2025 cacheable objects (with the 2024 fields): now, at `timestamp`, or (beta.3) every cert whose validity overlaps `notBefore`…`notAfter`; optionally for one `session_id`.",
  })
  @ApiResponse({ status: 200, description: 'array of {id_cert, invalidated, idCertPem, invalidatedAt?, cacheNotValidBefore, cacheNotValidAfter, cacheSignature}' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 404, description: 'P2CORE_ACTOR_NOT_FOUND' })
  @ApiResponse({ status: 503, description: 'P2CORE_UNAVAILABLE (cache information being renewed)' })
  async idcertActor(@Param() path: FederationIdPathDto, @Query() request: ActorCertsRequestDto): Promise<ActorIdCertObject[]> {
    const now = this.clock.now();
    const { certs, at } = await this.select(path.fid, request, now);
    return Promise.all(
      certs.map(async (cert) => {
        const cache = await currentCacheWindow(this.db, cert.serial, now);
        if (!cache) throw new ApiError(503, ERROR_CODE.unavailable, 'The cache information of a certificate is being renewed; retry in a moment.');
        return {
          id_cert: cert.pem,
          invalidated: isInvalidated(cert, at),
          idCertPem: cert.pem,
          ...(cache.invalidatedAt !== null ? { invalidatedAt: cache.invalidatedAt } : {}),
          cacheNotValidBefore: cache.cacheNotValidBefore,
          cacheNotValidAfter: cache.cacheNotValidAfter,
          cacheSignature: cache.signature,
        };
      }),
    );
  }

  private async select(federationId: string, request: ActorCertsRequestDto, now: Date): Promise<{ certs: ActorCertRow[]; at?: Date }> {
    const { timestamp, notBefore: rangeFrom, notAfter: rangeTo, session_id: sessionId } = request;
    if (rangeFrom !== undefined && rangeTo !== undefined && rangeFrom > rangeTo) throw badRequest('notBefore must not be later than notAfter.');
    if (timestamp !== undefined && (rangeFrom !== undefined || rangeTo !== undefined)) {
      throw badRequest('Ask either for the certs at one timestamp or for a notBefore/notAfter range, not both.');
    }
    const domain = federationId.slice(federationId.indexOf('@') + 1);
    if (domain !== this.config.domain || !(await actorExists(this.db, federationId))) {
      throw new ApiError(404, ERROR_CODE.actorNotFound, `No actor ${federationId} is registered on this server.`);
    }
    const at = timestamp === undefined ? undefined : new Date(timestamp * 1000);
    const range =
      rangeFrom === undefined && rangeTo === undefined
        ? undefined
        : { from: rangeFrom === undefined ? undefined : new Date(rangeFrom * 1000), to: rangeTo === undefined ? undefined : new Date(rangeTo * 1000) };
    return { certs: await actorCerts(this.db, federationId, { at, sessionId, range }, now), at };
  }
}

function isInvalidated(cert: ActorCertRow, at: Date | undefined): boolean {
  if (!cert.invalidatedAt) return false;
  return at === undefined || cert.invalidatedAt.getTime() <= at.getTime();
}

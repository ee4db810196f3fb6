import { Controller, Get, Header, Inject, Query } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ERROR_CODE } from '@p2/contracts';
import { CLOCK, type Clock } from '@p2/platform';
import { spkiDerFromRawEd25519, toPem, type CacheableIdCert } from '@p2/polyproto';
import { currentCacheWindow, serverCertAt, type ServerCertRow } from '@p2/read-models';
import { ApiError } from '../http/api-error';
import { ReadDatabase } from '../read-models/read-database';
import { ServerCertRequestDto } from './server-cert.request.dto';

@ApiTags('server identity')
@Controller('.p2/core/v1')
export class ServerIdentityController {
  constructor(
    private readonly db: ReadDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  @Get('idcert/server')
  @ApiOperation({ summary: "The home server's root ID-Cert, now or at `timestamp` (UNIX seconds), as a 2025 cacheable object." })
  @ApiResponse({ status: 200, schema: { example: { idCertPem: '-----BEGIN CERTIFICATE-----…', cacheNotValidBefore: 1764300000, cacheNotValidAfter: 1764321600, cacheSignature: 'hex' } } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST (timestamp not a whole number)' })
  @ApiResponse({ status: 404, description: 'P2CORE_NO_CERT_AT_TIME' })
  async serverIdCert(@Query() request: ServerCertRequestDto): Promise<CacheableIdCert> {
    const root = await this.rootAt(request.timestamp);
    const cache = await currentCacheWindow(this.db, root.serial, this.clock.now());
    if (!cache) {
      throw new ApiError(503, ERROR_CODE.unavailable, 'The cache signature of this certificate is being renewed; retry in a moment.');
    }
    return {
      idCertPem: root.pem,
      cacheNotValidBefore: cache.cacheNotValidBefore,
      cacheNotValidAfter: cache.cacheNotValidAfter,
      cacheSignature: cache.signature,
      ...(cache.invalidatedAt !== null ? { invalidatedAt: cache.invalidatedAt } : {}),
    };
  }

  @Get('key/server')
  @Header('content-type', 'application/json; charset=utf-8')
  @ApiOperation({ summary: "The home server's public identity key (SPKI PEM as a JSON string), now or at `timestamp`." })
  @ApiResponse({ status: 200, schema: { type: 'string', example: '-----BEGIN PUBLIC KEY-----\n…' } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST' })
  @ApiResponse({ status: 404, description: 'P2CORE_NO_CERT_AT_TIME' })
  async serverPublicKey(@Query() request: ServerCertRequestDto): Promise<string> {
    const root = await this.rootAt(request.timestamp);
    return JSON.stringify(toPem(spkiDerFromRawEd25519(Buffer.from(root.publicKey, 'base64')), 'PUBLIC KEY'));
  }

  private async rootAt(timestamp: number | undefined): Promise<ServerCertRow> {
    const root = await serverCertAt(this.db, timestamp === undefined ? undefined : new Date(timestamp * 1000));
    if (!root) {
      throw timestamp === undefined
        ? new ApiError(503, ERROR_CODE.unavailable, 'The home server has no identity key yet; the certificate service is starting.')
        : new ApiError(404, ERROR_CODE.noCertAtTime, `The home server had no ID-Cert at ${timestamp}.`);
    }
    return root;
  }
}

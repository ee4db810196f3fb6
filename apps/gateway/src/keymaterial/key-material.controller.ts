import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Options, Post, Query, Res, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { AppConfig } from '@p2/config';
import { ERROR_CODE, newCommand, type KeyMaterialItem } from '@p2/contracts';
import { keyMaterialItems, type KeyMaterialRow } from '@p2/read-models';
import { CurrentSession, type AuthenticatedSession } from '../auth/authenticated-session';
import { BearerAuthGuard } from '../auth/bearer-auth.guard';
import { SensitiveActionGuard } from '../auth/sensitive-action.guard';
import { APP_CONFIG } from '@p2/platform';
import { ApiError, badRequest } from '../http/api-error';
import { ExactIntegersIn, ListBodyAs, WholeBodyAs } from '../http/lenient-body';
import { bodyItemMessage } from '../http/request-validation';
import { CommandSender } from '../messaging/command-sender.service';
import { ReadDatabase } from '../read-models/read-database';
import { KeyMaterialNotFoundError } from './key-material-not-found.error';
import { encryptionAlgorithmsOf, KeyMaterialUploadDto, SERIAL_FIELD_NAMES, SERIAL_LIST_ALIASES, SERIAL_LIST_NAMES, SerialSelectionDto } from './key-material.request.dto';
import { ApiAuthenticated, ApiSendsCommand, ApiSensitiveAction } from '../http/api-responses';

const SIZE_HEADER = 'X-Max-Payload-Size';

/** One stored item as GET /session/keymaterial answers it: the 2024 shape plus
 * `encryption_algorithms` when the client named any (docs/protocol.md#key-material). */
interface KeyMaterialResponseItem {
  readonly key_data: string;
  readonly serial_number: string;
  readonly encryption_algorithms?: string[];
}

const distinct = (serials: string[] | undefined) => (serials === undefined ? undefined : [...new Set(serials)]);

function toResponseItem(row: KeyMaterialRow): KeyMaterialResponseItem {
  return {
    key_data: row.keyData,
    serial_number: row.serial,
    ...(row.encryptionAlgorithms.length > 0 ? { encryption_algorithms: row.encryptionAlgorithms } : {}),
  };
}

/** Encrypted private key material (docs/protocol.md#key-material). Writes go to the
 * certstore as StoreKeyMaterial / DeleteKeyMaterial; reads come from the key_material read model. */
@ApiTags('key material')
@Controller('.p2/core/v1/session/keymaterial')
export class KeyMaterialController {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly commands: CommandSender,
    private readonly db: ReadDatabase,
  ) {}

  @Post()
  @HttpCode(201)
  @UseGuards(BearerAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Upload encrypted private key material for ID-Certs of the calling actor.',
    description:
      'One object or an array, in the 2024 shape (`key_data`, `serial_number` string), the beta.3 shape (`serialNumber`, ' +
      '`encryptionAlgorithms` OID strings) or the polyproto-rs shape (`serial_number` and `encryption_algorithm` as byte arrays, ' +
      'the latter a DER AlgorithmIdentifier); `encryption_algorithms` may also be an array of DER byte arrays. Serials: decimal ' +
      'string, JSON number (exact at any size) or big-endian bytes. All elements are checked first; nothing is stored unless all are. ' +
      'The size limit (P2_KEYMATERIAL_MAX_BYTES, see OPTIONS) applies per element to the UTF-8 byte length of the `key_data` ' +
      'PEM text. An actor stores at most P2_KEYMATERIAL_MAX_ITEMS items.',
  })
  @WholeBodyAs('body')
  @ExactIntegersIn(SERIAL_FIELD_NAMES)
  @ApiResponse({ status: 201, description: 'stored; no body' })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST: empty body, element without serial_number, malformed serial, key_data or algorithm' })
  @ApiAuthenticated()
  @ApiResponse({ status: 404, description: "P2CORE_UNKNOWN_SERIAL: a serial is not one of this actor's ID-Certs (any it ever had)" })
  @ApiResponse({
    status: 409,
    description: 'P2CORE_KEY_MATERIAL_EXISTS: key material is already stored for a serial (delete it first); P2CORE_KEY_MATERIAL_SLOTS_FULL: the actor would exceed P2_KEYMATERIAL_MAX_ITEMS items',
  })
  @ApiResponse({ status: 413, description: 'P2CORE_PAYLOAD_TOO_LARGE: a key_data exceeds the per-item limit' })
  @ApiSendsCommand()
  async store(@CurrentSession() session: AuthenticatedSession, @Body() request: KeyMaterialUploadDto, @Headers('idempotency-key') idempotencyKey?: string): Promise<void> {
    const items = request.body.map((item, i): KeyMaterialItem => {
      const bytes = Buffer.byteLength(item.key_data, 'utf8');
      if (bytes > this.config.keyMaterialMaxBytes) {
        const message = bodyItemMessage(request.body, i, 'key_data', `is ${bytes} bytes (UTF-8); this server takes at most ${this.config.keyMaterialMaxBytes} per item`);
        throw new ApiError(413, ERROR_CODE.payloadTooLarge, message);
      }
      const raw = item.encryption_algorithms;
      return {
        serial: item.serial_number,
        keyData: item.key_data,
        encryptionAlgorithms: encryptionAlgorithmsOf(raw),
        ...(raw === undefined || raw === null ? {} : { rawEncryptionAlgorithms: raw }),
      };
    });
    await this.commands.send(
      newCommand(
        'StoreKeyMaterial',
        { federationId: session.federationId, items },
        this.commands.sessionCommandId('session/keymaterial/store', session, idempotencyKey),
      ),
    );
  }

  @Get()
  @UseGuards(BearerAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary: "The calling actor's encrypted private key material: all of it, or the requested serials.",
    description:
      'Serials as `?serials=1,2,3` (wins), a JSON body `{"serial_numbers": ["1", …]}` or a bare JSON array of strings or numbers ' +
      '(polyproto-rs). Answer: 200 array in the 2024 shape, ordered by serial, with `encryption_algorithms` (dotted OIDs) when ' +
      'known; 200 `[]` when no serial is given and nothing is stored. If ANY requested serial has nothing stored, 404 whose ' +
      'body is the JSON array of those serials (decimal strings), as in the 2024 text.',
  })
  @ListBodyAs('serials', SERIAL_LIST_ALIASES)
  @ExactIntegersIn(SERIAL_LIST_NAMES)
  @ApiResponse({ status: 200, schema: { example: [{ key_data: '-----BEGIN ENCRYPTED PRIVATE KEY-----…', serial_number: '4019383941', encryption_algorithms: ['1.2.840.113549.1.5.13'] }] } })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST: a serial is not a serial number' })
  @ApiAuthenticated()
  @ApiResponse({
    status: 404,
    description: 'the serials with no key material (not the error body)',
    schema: { type: 'array', items: { type: 'string' }, example: ['123456789', '987654321'] },
  })
  async list(@CurrentSession() session: AuthenticatedSession, @Query() request: SerialSelectionDto): Promise<KeyMaterialResponseItem[]> {
    const serials = distinct(request.serials);
    const items = (await keyMaterialItems(this.db, session.federationId, serials)).map(toResponseItem);
    if (serials) {
      const found = new Set(items.map((item) => item.serial_number));
      const missing = serials.filter((serial) => !found.has(serial));
      if (missing.length > 0) throw new KeyMaterialNotFoundError(missing);
    }
    return items;
  }

  @Delete()
  @HttpCode(204)
  @UseGuards(BearerAuthGuard, SensitiveActionGuard)
  @ApiBearerAuth()
  @ApiOperation({
    summary: 'Delete encrypted private key material of the calling actor; a sensitive action.',
    description:
      'Serials as `?serials=1,2,3` (wins), a bare JSON array of strings or numbers, or `{"serial_numbers": [...]}`. 204 when ' +
      'at least one of them had key material (those without are ignored); 404 when none had.',
  })
  @ApiSensitiveAction()
  @ListBodyAs('serials', SERIAL_LIST_ALIASES)
  @ExactIntegersIn(SERIAL_LIST_NAMES)
  @ApiResponse({ status: 204 })
  @ApiResponse({ status: 400, description: 'P2CORE_MALFORMED_REQUEST: no serials, or a serial is not a serial number' })
  @ApiResponse({ status: 404, description: 'P2CORE_KEY_MATERIAL_NOT_FOUND: none of the serials had key material' })
  @ApiSendsCommand()
  async delete(
    @CurrentSession() session: AuthenticatedSession,
    @Query() request: SerialSelectionDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<void> {
    const serials = distinct(request.serials);
    if (!serials) throw badRequest('Name the serials to delete: ?serials=1,2,3 or a JSON array body.');
    await this.commands.send(
      newCommand(
        'DeleteKeyMaterial',
        { federationId: session.federationId, serials },
        this.commands.sessionCommandId(`session/keymaterial/delete/${serials.join(',')}`, session, idempotencyKey),
      ),
    );
  }

  @Options()
  @ApiOperation({
    summary: 'The per-item upload size limit (2024 form): header X-Max-Payload-Size and a JSON number body.',
    description:
      'The limit is the UTF-8 byte length of one `key_data`. Also answers CORS preflights on this path: with `Origin` and ' +
      '`Access-Control-Request-Method` the CORS headers are added, and X-Max-Payload-Size is listed in Access-Control-Expose-Headers.',
  })
  @ApiResponse({ status: 200, schema: { type: 'number', example: 10240 } })
  sizeByOptions(@Res({ passthrough: true }) reply: FastifyReply): number {
    return this.sizeLimit(reply);
  }

  @Get('size')
  @ApiOperation({ summary: 'The per-item upload size limit (beta.3 / polyproto-rs form): header X-Max-Payload-Size and a JSON number body.' })
  @ApiResponse({ status: 200, schema: { type: 'number', example: 10240 } })
  sizeByGet(@Res({ passthrough: true }) reply: FastifyReply): number {
    return this.sizeLimit(reply);
  }

  /** polyproto-rs reads the limit from the JSON body, 2024 clients from the header: both are sent.
   * CORS headers (preflight included) come from the gateway-wide hook in http/cors.ts. */
  private sizeLimit(reply: FastifyReply): number {
    const limit = this.config.keyMaterialMaxBytes;
    void reply.status(200).header(SIZE_HEADER, String(limit)).header('content-type', 'application/json; charset=utf-8');
    return limit;
  }
}

import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString } from 'class-validator';
import { ERROR_CODE } from '@p2/contracts';

const MALFORMED_CERT = { context: { code: ERROR_CODE.malformedCert } };

/** `PUT`/`POST /session/idcert/extern`: the session's cert as `{"id_cert": …}` or as the whole body
 * (raw PEM with any or no Content-Type, a JSON string, or base64 DER). */
export class ExternIdCertRequestDto {
  @ApiProperty({ example: '-----BEGIN CERTIFICATE-----\n…', description: 'PEM or base64 DER; the whole body may be this text alone' })
  @IsString(MALFORMED_CERT)
  @IsNotEmpty(MALFORMED_CERT)
  readonly id_cert!: string;
}

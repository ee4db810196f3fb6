import { ApiProperty } from '@nestjs/swagger';
import { IsNotEmpty, IsString } from 'class-validator';

/** `POST /session/idcert`, `POST /idcert`: an ID-CSR, as `{"csr": …}` or as the whole body (raw
 * PEM or base64 DER, any or no Content-Type, or a JSON string). */
export class CsrRequestDto {
  @ApiProperty({ example: '-----BEGIN CERTIFICATE REQUEST-----…', description: 'PEM or base64 DER; the whole body may be this text alone' })
  @IsString()
  @IsNotEmpty()
  readonly csr!: string;
}

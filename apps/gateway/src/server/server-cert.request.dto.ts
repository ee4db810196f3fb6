import { ApiPropertyOptional } from '@nestjs/swagger';
import { UnixSeconds } from '../http/request-validation';

/** `GET /idcert/server`, `GET /key/server`: the root now, or the one the server had at `timestamp`. */
export class ServerCertRequestDto {
  @ApiPropertyOptional({ type: Number, example: 1764300000, description: 'UNIX seconds (a number or a decimal string; also in a JSON body)' })
  @UnixSeconds()
  readonly timestamp?: number;
}

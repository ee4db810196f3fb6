import { Controller, Get, Inject } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';

@ApiTags('discovery')
@Controller('.well-known')
export class WellKnownController {
  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  @Get('polyproto-core')
  @ApiOperation({ summary: 'Where the polyproto core API of this home server lives.' })
  @ApiResponse({ status: 200, schema: { example: { api: 'https://example.com/.p2/core/' } } })
  wellKnown(): { api: string } {
    return { api: `${this.config.publicUrl}/.p2/core/` };
  }
}

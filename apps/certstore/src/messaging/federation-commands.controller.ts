import { Controller, UseFilters } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type {
  AnnounceForeignIdCertData,
  CacheForeignIdCertData,
  CacheForeignServerCertData,
  IdentifyForeignSessionData,
  LogOutForeignSessionData,
} from '@p2/contracts';
import { PassThroughRpcErrors } from '@p2/messaging';
import type { CommandContext } from '../application/command-context';
import { CacheForeignCertsHandler } from '../application/federation/cache-foreign-certs.handler';
import { ForeignSessionsHandler } from '../application/federation/foreign-sessions.handler';
import { Scope } from './commands.controller';

/** The commands of federation (docs/protocol.md#federation), one handler each, as CommandsController. */
@Controller()
@UseFilters(PassThroughRpcErrors)
export class FederationCommandsController {
  constructor(
    private readonly cache: CacheForeignCertsHandler,
    private readonly sessions: ForeignSessionsHandler,
  ) {}

  @MessagePattern('CacheForeignServerCert')
  onCacheForeignServerCert(@Payload() data: CacheForeignServerCertData, @Scope() ctx: CommandContext) {
    return this.cache.cacheServerCert(data, ctx);
  }

  @MessagePattern('CacheForeignIdCert')
  onCacheForeignIdCert(@Payload() data: CacheForeignIdCertData, @Scope() ctx: CommandContext) {
    return this.cache.cacheIdCert(data, ctx);
  }

  @MessagePattern('IdentifyForeignSession')
  onIdentifyForeignSession(@Payload() data: IdentifyForeignSessionData, @Scope() ctx: CommandContext) {
    return this.sessions.identify(data, ctx);
  }

  @MessagePattern('AnnounceForeignIdCert')
  onAnnounceForeignIdCert(@Payload() data: AnnounceForeignIdCertData, @Scope() ctx: CommandContext) {
    return this.sessions.announce(data, ctx);
  }

  @MessagePattern('LogOutForeignSession')
  onLogOutForeignSession(@Payload() data: LogOutForeignSessionData, @Scope() ctx: CommandContext) {
    return this.sessions.logOut(data, ctx);
  }
}

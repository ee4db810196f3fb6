import { Controller, UseFilters, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type {
  AcknowledgeInboxData,
  AddKeyPackagesData,
  ClaimKeyPackagesData,
  DeleteKeyMaterialData,
  DeleteSessionData,
  IdentifySessionData,
  LogOutSessionData,
  OpenSessionData,
  RegisterActorData,
  ReplaceLastResortKeyPackageData,
  RotateIdCertData,
  RotateServerKeyData,
  StoreKeyMaterialData,
} from '@p2/contracts';
import { PassThroughRpcErrors, type CommandRpcContext } from '@p2/messaging';
import { AcknowledgeInboxHandler } from '../application/acknowledge-inbox.handler';
import type { CommandContext } from '../application/command-context';
import { IdentifySessionHandler } from '../application/identify-session.handler';
import { KeyMaterialHandler } from '../application/key-material.handler';
import { KeyPackagesHandler } from '../application/key-packages.handler';
import { OpenSessionHandler } from '../application/open-session.handler';
import { RegisterActorHandler } from '../application/register-actor.handler';
import { RotateIdCertHandler } from '../application/rotate-id-cert.handler';
import { RotateServerKeyHandler } from '../application/rotate-server-key.handler';
import { SessionLifecycleHandler } from '../application/session-lifecycle.handler';

/** The command's unit of work (transaction, metadata, clock), as the group commit opened it. */
export const Scope = createParamDecorator((_: unknown, host: ExecutionContext): CommandContext => host.switchToRpc().getContext<CommandRpcContext<CommandContext>>().scope);

/** One handler per command type on the commands topic. The transport has already checked each
 * command against its contract class, so the payload arrives typed; errors pass through untouched
 * to the group commit, which tells refusals from conflicts from failures. */
@Controller()
@UseFilters(PassThroughRpcErrors)
export class CommandsController {
  constructor(
    private readonly registerActor: RegisterActorHandler,
    private readonly openSession: OpenSessionHandler,
    private readonly sessions: SessionLifecycleHandler,
    private readonly rotateIdCert: RotateIdCertHandler,
    private readonly rotateServerKey: RotateServerKeyHandler,
    private readonly acknowledgeInbox: AcknowledgeInboxHandler,
    private readonly keyMaterial: KeyMaterialHandler,
    private readonly identifySession: IdentifySessionHandler,
    private readonly keyPackages: KeyPackagesHandler,
  ) {}

  @MessagePattern('RegisterActor')
  onRegisterActor(@Payload() data: RegisterActorData, @Scope() ctx: CommandContext) {
    return this.registerActor.execute(data, ctx);
  }

  @MessagePattern('OpenSession')
  onOpenSession(@Payload() data: OpenSessionData, @Scope() ctx: CommandContext) {
    return this.openSession.execute(data, ctx);
  }

  @MessagePattern('LogOutSession')
  onLogOutSession(@Payload() data: LogOutSessionData, @Scope() ctx: CommandContext) {
    return this.sessions.logOut(data, ctx);
  }

  @MessagePattern('DeleteSession')
  onDeleteSession(@Payload() data: DeleteSessionData, @Scope() ctx: CommandContext) {
    return this.sessions.delete(data, ctx);
  }

  @MessagePattern('RotateIdCert')
  onRotateIdCert(@Payload() data: RotateIdCertData, @Scope() ctx: CommandContext) {
    return this.rotateIdCert.execute(data, ctx);
  }

  @MessagePattern('RotateServerKey')
  onRotateServerKey(@Payload() data: RotateServerKeyData, @Scope() ctx: CommandContext) {
    return this.rotateServerKey.execute(data, ctx);
  }

  @MessagePattern('AcknowledgeInbox')
  onAcknowledgeInbox(@Payload() data: AcknowledgeInboxData, @Scope() ctx: CommandContext) {
    return this.acknowledgeInbox.execute(data, ctx);
  }

  @MessagePattern('StoreKeyMaterial')
  onStoreKeyMaterial(@Payload() data: StoreKeyMaterialData, @Scope() ctx: CommandContext) {
    return this.keyMaterial.store(data, ctx);
  }

  @MessagePattern('DeleteKeyMaterial')
  onDeleteKeyMaterial(@Payload() data: DeleteKeyMaterialData, @Scope() ctx: CommandContext) {
    return this.keyMaterial.delete(data, ctx);
  }

  @MessagePattern('IdentifySession')
  onIdentifySession(@Payload() data: IdentifySessionData, @Scope() ctx: CommandContext) {
    return this.identifySession.execute(data, ctx);
  }

  @MessagePattern('AddKeyPackages')
  onAddKeyPackages(@Payload() data: AddKeyPackagesData, @Scope() ctx: CommandContext) {
    return this.keyPackages.add(data, ctx);
  }

  @MessagePattern('ReplaceLastResortKeyPackage')
  onReplaceLastResortKeyPackage(@Payload() data: ReplaceLastResortKeyPackageData, @Scope() ctx: CommandContext) {
    return this.keyPackages.replaceLastResort(data, ctx);
  }

  @MessagePattern('ClaimKeyPackages')
  onClaimKeyPackages(@Payload() data: ClaimKeyPackagesData, @Scope() ctx: CommandContext) {
    return this.keyPackages.claim(data, ctx);
  }
}

import { Module } from '@nestjs/common';
import { AcknowledgeInboxHandler } from '../application/acknowledge-inbox.handler';
import { AggregatesModule } from '../application/aggregates.module';
import { GroupCommit } from '../application/group-commit';
import { IdentifySessionHandler } from '../application/identify-session.handler';
import { KeyMaterialHandler } from '../application/key-material.handler';
import { KeyPackagesHandler } from '../application/key-packages.handler';
import { OpenSessionHandler } from '../application/open-session.handler';
import { RegisterActorHandler } from '../application/register-actor.handler';
import { RotateIdCertHandler } from '../application/rotate-id-cert.handler';
import { RotateServerKeyHandler } from '../application/rotate-server-key.handler';
import { SessionLifecycleHandler } from '../application/session-lifecycle.handler';
import { SigningModule } from '../signing/signing.module';
import { COMMAND_TRANSPORT, commandTransportProvider } from './command-transport.provider';
import { CommandsController } from './commands.controller';
import { FederationCommandsController } from './federation-commands.controller';
import { CacheForeignCertsHandler } from '../application/federation/cache-foreign-certs.handler';
import { ForeignSessionsHandler } from '../application/federation/foreign-sessions.handler';
import { KafkaModule } from './kafka.module';

/** The commands topic: the batch transport (connected in certstore.app.ts), the group commit and
 * one handler per command type (docs/architecture.md#command-path). */
@Module({
  imports: [AggregatesModule, SigningModule, KafkaModule],
  controllers: [CommandsController, FederationCommandsController],
  providers: [
    GroupCommit,
    commandTransportProvider,
    RegisterActorHandler,
    OpenSessionHandler,
    SessionLifecycleHandler,
    IdentifySessionHandler,
    RotateIdCertHandler,
    RotateServerKeyHandler,
    AcknowledgeInboxHandler,
    KeyMaterialHandler,
    KeyPackagesHandler,
    CacheForeignCertsHandler,
    ForeignSessionsHandler,
  ],
  exports: [COMMAND_TRANSPORT],
})
export class CommandsModule {}

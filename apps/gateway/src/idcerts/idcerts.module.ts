import { Module } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { CommandMessagingModule } from '../messaging/command-messaging.module';
import { ActorCertsController } from './actor-certs.controller';
import { RotateIdCertController } from './rotate-id-cert.controller';

/** Actors' ID-Certs: reading them (now, at T, in a range) and new ones for the caller's sessions
 * (docs/protocol.md#certs-at-time-t, docs/protocol.md#cert-rotation). */
@Module({ imports: [AuthModule, CommandMessagingModule], controllers: [ActorCertsController, RotateIdCertController] })
export class IdCertsModule {}

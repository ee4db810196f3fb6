import { Module } from '@nestjs/common';
import { CommandSender } from './command-sender.service';

/** The gateway's side of the commands topic: one command bus per gateway, shared by every feature. */
@Module({ providers: [CommandSender], exports: [CommandSender] })
export class CommandMessagingModule {}

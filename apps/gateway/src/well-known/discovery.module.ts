import { Module } from '@nestjs/common';
import { WellKnownController } from './well-known.controller';

/** /.well-known/polyproto-core: where this server's API lives. */
@Module({ controllers: [WellKnownController] })
export class DiscoveryModule {}

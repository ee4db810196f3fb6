import { Module } from '@nestjs/common';
import { ProcessedCommandsPruner } from './processed-commands-pruner.service';

/** Periodic deletion of records that only matter for a while (docs/architecture.md#processed-commands-retention). */
@Module({ providers: [ProcessedCommandsPruner], exports: [ProcessedCommandsPruner] })
export class RetentionModule {}

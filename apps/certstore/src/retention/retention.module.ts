import { Module } from '@nestjs/common';
import { ConsumedChallengesPruner } from './consumed-challenges-pruner.service';
import { ProcessedCommandsPruner } from './processed-commands-pruner.service';

/** Periodic deletion of records that only matter for a while (docs/architecture.md#processed-commands-retention,
 * docs/protocol.md#challenge-strings). */
@Module({ providers: [ProcessedCommandsPruner, ConsumedChallengesPruner], exports: [ProcessedCommandsPruner, ConsumedChallengesPruner] })
export class RetentionModule {}

import { Module } from '@nestjs/common';
import { ConsumedChallengesPruner } from './consumed-challenges-pruner.service';
import { InboxPruner } from './inbox-pruner.service';
import { ProcessedCommandsPruner } from './processed-commands-pruner.service';

/** Periodic deletion of records that only matter for a while (docs/architecture.md#processed-commands-retention,
 * docs/protocol.md#challenge-strings, docs/architecture.md#inbox-pruning). */
@Module({ providers: [ProcessedCommandsPruner, ConsumedChallengesPruner, InboxPruner], exports: [ProcessedCommandsPruner, ConsumedChallengesPruner, InboxPruner] })
export class RetentionModule {}

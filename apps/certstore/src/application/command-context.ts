import type { EntityManager } from 'typeorm';
import type { MessageMetadata } from '@p2/contracts';

/** What a command handler gets: the batch's transaction to write in (inside this command's
 * savepoint), the metadata for its events, and the instant the command is handled at (the clock
 * is read once, at the edge). */
export interface CommandContext {
  readonly manager: EntityManager;
  readonly metadata: MessageMetadata;
  readonly at: Date;
}

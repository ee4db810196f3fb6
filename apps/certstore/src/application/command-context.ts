import type { EntityManager } from 'typeorm';
import type { MessageMetadata } from '@p2/contracts';

/** What a command handler gets: the transaction to write in, the metadata for its events, and the
 * instant the command is handled at (the clock is read once, at the edge). */
export interface CommandContext {
  readonly manager: EntityManager;
  readonly metadata: MessageMetadata;
  readonly at: Date;
}

/** A command whose data is not what the contract says (a bug or a foreign producer). */
export class MalformedCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedCommandError';
  }
}

export function requireString(data: unknown, field: string): string {
  const value = (data as Record<string, unknown> | null)?.[field];
  if (typeof value !== 'string' || value.length === 0) throw new MalformedCommandError(`command field ${field} must be a non-empty string`);
  return value;
}

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

/** The hex SHA-256 of a session token: the only form of a token a command may carry. */
export function requireTokenHash(data: unknown, field = 'tokenHash'): string {
  const value = requireString(data, field);
  if (!/^[0-9a-f]{64}$/.test(value)) throw new MalformedCommandError(`${field} must be 64 hex digits`);
  return value;
}

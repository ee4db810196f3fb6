import { Injectable } from '@nestjs/common';
import { challengeStream } from '@p2/contracts';
import { challengeDecider, fold, type ChallengeEvent, type ChallengeState } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import type { EntityManager } from 'typeorm';
import { applyProjections } from '../projections/projections';
import type { CommandContext } from './command-context';

export interface LoadedChallenge {
  readonly streamId: string;
  readonly version: number;
  readonly state: ChallengeState;
}

/** The `challenge-<value>` stream. Appending at the loaded version is what makes a challenge
 * single-use: two identify commands racing for one challenge (possibly on two certstores, since
 * they are keyed by their actors) both append at version 1; UNIQUE(stream, position) lets one
 * commit and turns the other into a ConcurrencyError, whose retry then sees the challenge used. */
@Injectable()
export class ChallengeRepository {
  constructor(private readonly eventStore: PostgresEventStore) {}

  async load(manager: EntityManager, challenge: string): Promise<LoadedChallenge> {
    const streamId = challengeStream(challenge);
    const { version, events } = await this.eventStore.readStream(streamId, manager);
    return { streamId, version, state: fold(challengeDecider, events as unknown as ChallengeEvent[]) };
  }

  /** Appends already decided events at the loaded version and applies the projections. */
  async append(ctx: CommandContext, loaded: LoadedChallenge, events: readonly ChallengeEvent[]): Promise<void> {
    const stored = await this.eventStore.append(ctx.manager, loaded.streamId, loaded.version, events, ctx.metadata);
    await applyProjections(ctx.manager, stored);
  }
}

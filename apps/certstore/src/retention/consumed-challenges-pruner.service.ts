import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '@p2/platform';
import { PeriodicPruner } from './periodic-pruner';

/** How long a used challenge's row outlives its expiry. Each certstore refuses an expired challenge
 * by its own clock; a row must stay until every certstore's clock is past the expiry, or one whose
 * clock lags could take the challenge a second time. Far longer than any clock difference between hosts. */
export const CONSUMED_CHALLENGE_KEPT_AFTER_EXPIRY_MS = 10 * 60 * 1000;

/**
 * Deletes the records of used challenges (consumed_challenges) once they expired
 * CONSUMED_CHALLENGE_KEPT_AFTER_EXPIRY_MS ago: an expired challenge is refused anyway, so its record
 * is no longer needed to refuse it a second time (docs/protocol.md#challenge-strings). Every certstore
 * prunes; deleting is idempotent.
 */
@Injectable()
export class ConsumedChallengesPruner extends PeriodicPruner {
  protected readonly what = 'consumed challenges';

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    super();
  }

  /** Deletes the records of challenges expired long enough at the clock's now; returns how many. */
  async prune(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - CONSUMED_CHALLENGE_KEPT_AFTER_EXPIRY_MS);
    const [, deleted] = (await this.dataSource.query('DELETE FROM consumed_challenges WHERE expires_at < $1', [before])) as [unknown, number];
    return deleted;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import { PeriodicPruner } from './periodic-pruner';

/**
 * Deletes the idempotency records of commands processed longer ago than
 * P2_PROCESSED_COMMANDS_RETENTION_HOURS. The window outlasts every way a command comes back (a
 * Kafka redelivery, a replay from the DLQ, a client retrying with its Idempotency-Key), so no
 * command is applied twice; without it the table grows with every command ever sent
 * (docs/architecture.md#processed-commands-retention). Every certstore prunes; deleting is idempotent.
 */
@Injectable()
export class ProcessedCommandsPruner extends PeriodicPruner {
  protected readonly what = 'processed commands';

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    super();
  }

  /** Deletes the records older than the retention window at the clock's now; returns how many. */
  async prune(): Promise<number> {
    const before = new Date(this.clock.now().getTime() - this.config.processedCommandsRetentionHours * 3_600_000);
    const [, deleted] = (await this.dataSource.query('DELETE FROM processed_commands WHERE processed_at < $1', [before])) as [unknown, number];
    return deleted;
  }
}

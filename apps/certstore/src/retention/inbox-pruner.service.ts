import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG } from '@p2/platform';
import { pruneFetchedInbox } from '@p2/read-models';
import { PeriodicPruner } from './periodic-pruner';

/**
 * Deletes the inbox items sessions have fetched, every P2_INBOX_PRUNE_INTERVAL_MS: an
 * acknowledgement only moves the session's cursor, and every read starts after it, so these rows
 * are never served again (docs/architecture.md#inbox-pruning). Every certstore prunes; batches lock
 * the cursors they take with SKIP LOCKED, so several certstores share the work.
 */
@Injectable()
export class InboxPruner extends PeriodicPruner {
  protected readonly what = 'fetched inbox items';

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    super();
  }

  protected override get everyMs(): number {
    return this.config.inboxPruneIntervalMs;
  }

  /** Deletes every fetched item; returns how many. */
  async prune(): Promise<number> {
    return (await pruneFetchedInbox(this.dataSource)).items;
  }
}

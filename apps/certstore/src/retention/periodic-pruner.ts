import { Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';

const PRUNE_EVERY_MS = 10 * 60 * 1000;

/**
 * Runs a pruner's `prune` every ten minutes in every certstore (deleting is idempotent, so they
 * need no coordination). The timer does not keep the process alive, and a failed run is only
 * logged: the next one catches up.
 */
export abstract class PeriodicPruner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(this.constructor.name);
  private timer?: NodeJS.Timeout;

  /** What is pruned, for the log line of a failed run. */
  protected abstract readonly what: string;

  /** Deletes what is due at the clock's now; returns how many rows went. */
  abstract prune(): Promise<number>;

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.prune().catch((error: unknown) => this.logger.warn(`pruning ${this.what} failed: ${(error as Error).message}`));
    }, PRUNE_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

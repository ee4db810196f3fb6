import type { Consumer, ConsumerRunConfig } from 'kafkajs';
import type { KafkaLogger } from './kafka.factory';

export interface ConsumerSupervisorOptions {
  /** What the log lines name (e.g. the group id). */
  readonly name: string;
  readonly logger: KafkaLogger;
  /** First delay before a restart, doubled per failed restart. Default 500. */
  readonly retryDelayMs?: number;
  /** Longest delay between restarts. Default 5000. */
  readonly maxRetryDelayMs?: number;
}

/**
 * Runs a kafkajs consumer and keeps it running for as long as the process wants it.
 *
 * kafkajs restarts a crashed consumer only when the error that ended it counts as retriable. Some
 * errors of a broker coming back do not: `KafkaJSGroupCoordinatorNotFound` (thrown when no broker
 * could name the group coordinator, e.g. every connection closed while the broker starts) is a
 * non-retriable error without a cause, so the consumer emits `crash` with `restart: false`,
 * disconnects, and stays stopped for good while the process looks healthy. A gateway whose reply
 * reader ends that way answers no write again (every client retry times out with a 503); certstores
 * whose command consumers end that way take no command. An error thrown by a handler (a TypeError
 * on a malformed record) ends a consumer the same way. This restarts such a consumer, with
 * back-off, on the same consumer object (kafkajs keeps its subscriptions and event listeners).
 */
export class ConsumerSupervisor {
  private stopping = false;
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private restartsCount = 0;

  constructor(
    private readonly consumer: Consumer,
    private readonly config: ConsumerRunConfig,
    private readonly options: ConsumerSupervisorOptions,
  ) {
    this.retryDelayMs = options.retryDelayMs ?? 500;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5000;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (payload.restart && this.stopping) {
        // A crash kafkajs restarts by itself: it has disconnected the consumer and, right after this
        // event, arms a timer to start it again. If stop() came while that crash was disconnecting,
        // stop() joined that disconnect and cleared no timer, as there was none yet; this one would
        // start the consumer of a process that has let it go (seen after a test's teardown).
        // kafkajs' stop() clears that timer, so it is called once the timer is armed.
        setImmediate(() => void consumer.stop().catch(() => undefined));
        return;
      }
      if (payload.restart || this.stopping) return;
      const error = payload.error as Error | undefined;
      options.logger.error(`${options.name}: the consumer stopped on ${error?.name ?? 'an error'} (${error?.message ?? ''}) and kafkajs does not restart it; restarting it`);
      this.schedule();
    });
    consumer.on(consumer.events.GROUP_JOIN, () => (this.failures = 0));
  }

  /** How often the consumer was restarted here (after kafkajs gave up on it). */
  get restarts(): number {
    return this.restartsCount;
  }

  /** `consumer.run` with the config given; resolves as kafkajs' run does. */
  run(): Promise<void> {
    return this.consumer.run(this.config);
  }

  /** Stops restarting and disconnects the consumer. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.consumer.disconnect();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    const delay = Math.min(this.retryDelayMs * 2 ** Math.min(this.failures, 20), this.maxRetryDelayMs);
    this.failures++;
    this.timer = setTimeout(() => void this.restart(), delay);
  }

  private async restart(): Promise<void> {
    if (this.stopping) return;
    this.restartsCount++;
    try {
      await this.consumer.connect();
      if (this.stopping) return;
      // A failure to join from here on ends in another `crash` event, which schedules again.
      await this.consumer.run(this.config);
    } catch (error) {
      if (this.stopping) return;
      this.options.logger.warn(`${this.options.name}: restarting the consumer failed (${(error as Error)?.message}); trying again`);
      this.schedule();
    }
  }
}

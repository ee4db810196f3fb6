import type { Admin, Kafka } from 'kafkajs';

/**
 * Answers whether the brokers respond, with a short deadline (used by GET /healthz). Its admin
 * client is connected on the first check and kept; closing waits for a check in flight, because a
 * connect that completes after the disconnect would leave a socket open past the app's shutdown.
 */
export class KafkaHealthProbe {
  private admin?: Admin;
  private inFlight?: Promise<unknown>;
  private closed = false;

  constructor(private readonly kafka: Kafka) {}

  async check(timeoutMs = 2000): Promise<boolean> {
    if (this.closed) return false;
    const admin = (this.admin ??= this.kafka.admin({ retry: { retries: 0 } }));
    const attempt = (async () => {
      await admin.connect();
      await admin.describeCluster();
    })();
    const settled = attempt.catch(() => undefined);
    this.inFlight = settled;
    try {
      await withTimeout(attempt, timeoutMs);
      return true;
    } catch {
      if (this.admin === admin) this.admin = undefined;
      // a connect still under way after the deadline is disconnected once it has settled
      void settled.then(() => admin.disconnect().catch(() => undefined));
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.inFlight;
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect();
  }

  /** Nest calls this on the certstore's probe (a provider of its health module) when the app closes. */
  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

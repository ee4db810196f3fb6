import type { Admin, Kafka } from 'kafkajs';

/** Answers whether the brokers respond, with a short deadline (used by GET /healthz). */
export class KafkaHealthProbe {
  private admin?: Admin;

  constructor(private readonly kafka: Kafka) {}

  async check(timeoutMs = 2000): Promise<boolean> {
    try {
      this.admin ??= this.kafka.admin({ retry: { retries: 0 } });
      await withTimeout(
        (async () => {
          await this.admin!.connect();
          await this.admin!.describeCluster();
        })(),
        timeoutMs,
      );
      return true;
    } catch {
      const admin = this.admin;
      this.admin = undefined;
      await admin?.disconnect().catch(() => undefined);
      return false;
    }
  }

  async close(): Promise<void> {
    await this.admin?.disconnect();
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

/** A named check /healthz/ready runs besides Kafka and PostgreSQL ("partitions assigned", "caches
 * warm"); it answers whether the process can serve. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

/** The checks of one process, registered by the parts that know (the transport, a cache). */
export class ReadinessChecks {
  private readonly checks = new Map<string, ReadinessCheck>();

  /** Adds (or replaces) the check `name`. */
  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Every check's answer; a check that throws is not ready. */
  async run(): Promise<Record<string, boolean>> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          return [name, (await check()) === true] as const;
        } catch {
          return [name, false] as const;
        }
      }),
    );
    return Object.fromEntries(entries);
  }
}

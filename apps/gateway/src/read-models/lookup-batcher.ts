/**
 * Sends the lookups that the requests of one turn of the event loop ask for as one statement: when
 * many requests are in flight, a database round trip is what a lookup costs (the statement itself
 * is a few index pages), so N lookups in one round trip cost about one. The batch goes out from
 * `setImmediate`, once the event loop has run the callbacks of the I/O it polled, which adds no
 * wait of its own: a lone request's lookup goes out in the same turn, alone.
 */
export class LookupBatcher<Q, R> {
  private queue: { readonly query: Q; readonly resolve: (result: R) => void; readonly reject: (error: unknown) => void }[] = [];
  private scheduled = false;

  /** `run` answers its queries in their order, at most `maxPerRun` at a time. */
  constructor(
    private readonly run: (queries: readonly Q[]) => Promise<readonly R[]>,
    private readonly maxPerRun: number,
  ) {}

  lookup(query: Q): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ query, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (let from = 0; from < queue.length; from += this.maxPerRun) {
      const batch = queue.slice(from, from + this.maxPerRun);
      this.run(batch.map((entry) => entry.query)).then(
        (results) => batch.forEach((entry, i) => entry.resolve(results[i]!)),
        (error: unknown) => batch.forEach((entry) => entry.reject(error)),
      );
    }
  }
}

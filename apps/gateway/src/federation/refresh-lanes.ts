/** How many askings run at once, in all and of one group (a domain) among them. */
export interface Lanes {
  readonly lanes: number;
  readonly perGroup: number;
  /** once true, nothing more is started (those running are waited for) */
  readonly stop?: () => boolean;
}

/**
 * Runs `work` over `items`, at most `lanes` at once and at most `perGroup` of one group among them
 * (docs/protocol.md#federation-refresh): whenever a lane is free, the first item in list order
 * whose group has a lane left starts. So a group whose askings are slow (a home server that takes
 * its full deadline to answer, each time) holds `perGroup` lanes, and the others' items go on
 * past it. The first failure (of `work`, or of `stop`) starts nothing more; those running are
 * waited for, then it is thrown (later ones are dropped: the caller's work handles what it expects).
 */
export function runInLanes<T>(items: readonly T[], groupOf: (item: T) => string, work: (item: T) => Promise<void>, { lanes, perGroup, stop = () => false }: Lanes): Promise<void> {
  if (!Number.isSafeInteger(lanes) || lanes < 1 || !Number.isSafeInteger(perGroup) || perGroup < 1) {
    return Promise.reject(new RangeError(`runInLanes needs at least one lane and one per group, not ${lanes} and ${perGroup}`));
  }
  const busy = new Map<string, number>();
  let running = 0;
  let failure: { readonly error: unknown } | undefined;
  return new Promise<void>((resolve, reject) => {
    // grouped once, up front: a groupOf that throws rejects here, before anything runs
    const pending = items.map((item) => ({ item, group: groupOf(item) }));
    const start = ({ item, group }: (typeof pending)[number]) => {
      busy.set(group, (busy.get(group) ?? 0) + 1);
      running++;
      Promise.resolve()
        .then(() => work(item))
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => {
          running--;
          const left = busy.get(group)! - 1;
          if (left === 0) busy.delete(group);
          else busy.set(group, left);
          pump();
        });
    };
    const pump = () => {
      try {
        while (failure === undefined && running < lanes && !stop()) {
          const next = pending.findIndex(({ group }) => (busy.get(group) ?? 0) < perGroup);
          if (next < 0) break;
          start(pending.splice(next, 1)[0]!);
        }
      } catch (error) {
        failure ??= { error };
      }
      if (running === 0) {
        if (failure === undefined) resolve();
        else reject(failure.error);
      }
    };
    pump();
  });
}

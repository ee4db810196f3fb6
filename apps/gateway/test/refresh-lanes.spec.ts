import { runInLanes } from '../src/federation/refresh-lanes';

/** Work whose items each finish when the test says so, recording what ran when. */
function controlledWork() {
  const started: string[] = [];
  const finishers = new Map<string, { resolve: () => void; reject: (error: Error) => void }>();
  let running = 0;
  let most = 0;
  const work = (item: string) =>
    new Promise<void>((resolve, reject) => {
      started.push(item);
      running++;
      most = Math.max(most, running);
      const done = () => {
        running--;
      };
      finishers.set(item, {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      });
    });
  return {
    work,
    started,
    finish: (item: string) => finishers.get(item)!.resolve(),
    fail: (item: string, error: Error) => finishers.get(item)!.reject(error),
    most: () => most,
    running: () => running,
  };
}

/** Lets every settled promise's callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));
const domainOf = (item: string) => item.split(':')[0]!;

describe('runInLanes: the refresher asks about several domains at once, and gives none more than its share (docs/protocol.md#federation-refresh)', () => {
  it('a domain that is slow to answer holds its share of the lanes; the other domains’ items all run past it', async () => {
    const w = controlledWork();
    const items = ['slow:1', 'slow:2', 'slow:3', 'slow:4', 'a:1', 'b:1', 'a:2', 'c:1', 'a:3'];
    const round = runInLanes(items, domainOf, w.work, { lanes: 3, perGroup: 2 });
    await settle();
    // list order, with slow's third item passed over while two of its own run
    expect(w.started).toEqual(['slow:1', 'slow:2', 'a:1']);
    for (const item of ['a:1', 'b:1', 'a:2', 'c:1']) {
      w.finish(item);
      await settle();
    }
    expect(w.started).toEqual(['slow:1', 'slow:2', 'a:1', 'b:1', 'a:2', 'c:1', 'a:3']);
    w.finish('a:3');
    await settle();
    // slow's last two wait for its own lanes, not for a free lane anywhere
    expect(w.started).toHaveLength(7);
    w.finish('slow:1');
    await settle();
    expect(w.started.slice(7)).toEqual(['slow:3']);
    for (const item of ['slow:2', 'slow:3']) {
      w.finish(item);
      await settle();
    }
    w.finish('slow:4');
    await round;
    expect({ started: [...w.started].sort(), most: w.most() }).toEqual({ started: [...items].sort(), most: 3 });
  });

  it('never more than `lanes` at once, nor more than `perGroup` of one domain', async () => {
    const w = controlledWork();
    // one domain's items first, as a domain with many sessions has them
    const items = Array.from({ length: 40 }, (_, i) => (i < 20 ? `big:${i}` : `d${i % 3}:${i}`));
    const perDomain = new Map<string, number>();
    let worstShare = 0;
    const round = runInLanes(
      items,
      domainOf,
      async (item) => {
        const domain = domainOf(item);
        perDomain.set(domain, (perDomain.get(domain) ?? 0) + 1);
        worstShare = Math.max(worstShare, perDomain.get(domain)!);
        await w.work(item);
        perDomain.set(domain, perDomain.get(domain)! - 1);
      },
      { lanes: 4, perGroup: 2 },
    );
    // finish the oldest running item, one at a time, until all ran
    for (let finished = 0; finished < items.length; finished++) {
      await settle();
      const oldestRunning = w.started.find((item, i) => i >= finished);
      w.finish(oldestRunning!);
    }
    await round;
    expect({ ran: w.started.length, most: w.most(), worstShare }).toEqual({ ran: 40, most: 4, worstShare: 2 });
  });

  it('a failure starts nothing more, waits for those running, then is thrown', async () => {
    const w = controlledWork();
    const round = runInLanes(['a:1', 'b:1', 'c:1', 'd:1'], domainOf, w.work, { lanes: 2, perGroup: 1 });
    let outcome: unknown;
    round.then(
      () => (outcome = 'resolved'),
      (error: Error) => (outcome = error.message),
    );
    await settle();
    w.fail('a:1', new Error('a broke'));
    await settle();
    expect({ started: w.started, outcome }).toEqual({ started: ['a:1', 'b:1'], outcome: undefined });
    w.finish('b:1');
    await settle();
    expect({ started: w.started, outcome }).toEqual({ started: ['a:1', 'b:1'], outcome: 'a broke' });
  });

  it('a groupOf or a stop that throws, and lanes that cannot run anything, are refusals, never a round that hangs', async () => {
    const w = controlledWork();
    const broken = () => {
      throw new Error('no domain');
    };
    await expect(runInLanes(['a:1'], broken, w.work, { lanes: 2, perGroup: 1 })).rejects.toThrow('no domain');
    let calls = 0;
    const round = runInLanes(['a:1', 'b:1', 'c:1'], domainOf, w.work, { lanes: 1, perGroup: 1, stop: () => ++calls > 1 && broken() });
    await settle();
    w.finish('a:1');
    await expect(round).rejects.toThrow('no domain');
    expect(w.started).toEqual(['a:1']);
    for (const lanes of [{ lanes: 0, perGroup: 1 }, { lanes: 2, perGroup: 0 }, { lanes: NaN, perGroup: 1 }, { lanes: 1.5, perGroup: 1 }]) {
      await expect(runInLanes(['a:1'], domainOf, w.work, lanes)).rejects.toThrow(RangeError);
    }
  });

  it('once told to stop, starts nothing more and resolves when those running are done; an empty list resolves at once', async () => {
    const w = controlledWork();
    let stopped = false;
    const round = runInLanes(['a:1', 'b:1', 'c:1'], domainOf, w.work, { lanes: 2, perGroup: 2, stop: () => stopped });
    await settle();
    stopped = true;
    w.finish('a:1');
    w.finish('b:1');
    await round;
    expect(w.started).toEqual(['a:1', 'b:1']);
    await expect(runInLanes([], domainOf, w.work, { lanes: 2, perGroup: 1 })).resolves.toBeUndefined();
  });
});

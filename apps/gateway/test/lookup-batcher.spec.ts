import { LookupBatcher } from '../src/read-models/lookup-batcher';

describe('LookupBatcher: the lookups of one event-loop turn in one statement', () => {
  function recording(answer: (query: number) => string = (query) => `answer ${query}`) {
    const runs: number[][] = [];
    const batcher = new LookupBatcher<number, string>(async (queries) => {
      runs.push([...queries]);
      return queries.map(answer);
    }, 3);
    return { runs, batcher };
  }

  it('sends the lookups asked for in one turn together, and answers each its own', async () => {
    const { runs, batcher } = recording();
    await expect(Promise.all([1, 2, 3].map((q) => batcher.lookup(q)))).resolves.toEqual(['answer 1', 'answer 2', 'answer 3']);
    expect(runs).toEqual([[1, 2, 3]]);
  });

  it('splits a turn with more lookups than a statement takes', async () => {
    const { runs, batcher } = recording();
    await expect(Promise.all([1, 2, 3, 4, 5].map((q) => batcher.lookup(q)))).resolves.toEqual([1, 2, 3, 4, 5].map((q) => `answer ${q}`));
    expect(runs).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('sends a lookup of a later turn in a statement of its own', async () => {
    const { runs, batcher } = recording();
    await batcher.lookup(1);
    await batcher.lookup(2);
    expect(runs).toEqual([[1], [2]]);
  });

  it('fails every lookup of a statement that failed, and only those', async () => {
    const runs: number[][] = [];
    const batcher = new LookupBatcher<number, string>(async (queries) => {
      runs.push([...queries]);
      if (queries.includes(2)) throw new Error('connection lost');
      return queries.map((q) => `answer ${q}`);
    }, 2);
    const results = await Promise.allSettled([1, 2, 3].map((q) => batcher.lookup(q)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['connection lost', 'connection lost', 'answer 3']);
    expect(runs).toEqual([[1, 2], [3]]);
  });
});

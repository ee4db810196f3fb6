import { RefreshBackoff } from '../src/federation/refresh-backoff';

/** The refresher's memory of failed askings (docs/protocol.md#federation-refresh). */
describe('RefreshBackoff', () => {
  const minute = 60_000;
  const at = (ms: number) => new Date(Date.UTC(2026, 0, 1) + ms);

  it('waits two intervals after the first failure, twice as long after each further one, never longer than the maximum', () => {
    const backoff = new RefreshBackoff<string>((d) => d, minute, 10 * minute, 100);
    const waits: number[] = [];
    let now = 0;
    for (let failure = 0; failure < 5; failure++) {
      backoff.failed('x.example', at(now));
      let wait = 0;
      while (backoff.waiting(at(now + wait)).includes('x.example')) wait += minute;
      waits.push(wait / minute);
      now += wait;
    }
    expect(waits).toEqual([2, 4, 8, 10, 10]);
  });

  it('a success forgets the failures; other items are not held back', () => {
    const backoff = new RefreshBackoff<string>((d) => d, minute, 10 * minute, 100);
    backoff.failed('x.example', at(0));
    backoff.failed('x.example', at(0));
    expect(backoff.waiting(at(0))).toEqual(['x.example']);
    backoff.succeeded('x.example');
    expect(backoff.waiting(at(0))).toEqual([]);
    backoff.failed('x.example', at(0));
    expect(backoff.waiting(at(2 * minute))).toEqual([]);
  });

  it('forgets a failure nothing asked about again for the longest wait after its own, and the oldest past the most entries', () => {
    const backoff = new RefreshBackoff<{ id: number }>((k) => String(k.id), minute, 10 * minute, 3);
    backoff.failed({ id: 1 }, at(0));
    backoff.failed({ id: 1 }, at(2 * minute));
    // the second wait ends at 6 minutes; at 15 the failures are still remembered
    backoff.waiting(at(15 * minute));
    backoff.failed({ id: 1 }, at(15 * minute));
    expect(backoff.waiting(at(22 * minute))).toEqual([{ id: 1 }]);
    // at 100, long past the third wait's end (23) and the longest wait after it: forgotten
    backoff.waiting(at(100 * minute));
    backoff.failed({ id: 1 }, at(100 * minute));
    expect(backoff.waiting(at(102 * minute))).toEqual([]);
    for (const id of [2, 3, 4]) backoff.failed({ id }, at(200 * minute));
    expect(backoff.waiting(at(200 * minute)).map((k) => k.id)).toEqual([2, 3, 4]);
  });
});

import { setNewest } from '../src/recency-map';

describe('setNewest', () => {
  it('moves a key set again to the newest place, and drops the oldest past the bound', () => {
    const map = new Map<string, number>();
    for (const key of ['a', 'b', 'c']) setNewest(map, key, 1, 3);
    setNewest(map, 'a', 2, 3);
    setNewest(map, 'd', 1, 3);
    // b was touched longest ago; a, set again, outlives it
    expect([...map]).toEqual([['c', 1], ['a', 2], ['d', 1]]);
  });
});

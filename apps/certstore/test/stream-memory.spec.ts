import { StreamMemory } from '../src/application/stream-memory';
import { groupCommitTransaction } from './group-commit-transaction';

describe('StreamMemory: what the certstore keeps of the streams it wrote', () => {
  interface Entry {
    readonly version: number;
    readonly state: string;
  }

  const transaction = groupCommitTransaction;

  function committed(memory: StreamMemory<Entry>, streamId: string, entry: Entry): void {
    const tx = transaction();
    memory.remember(streamId, entry, tx.ctx(1));
    tx.commit();
  }

  it('shows an entry to the later commands of its transaction at once, to others only once committed', () => {
    const memory = new StreamMemory<Entry>('test', 10);
    const tx = transaction();
    memory.remember('s', { version: 1, state: 'a' }, tx.ctx(1));
    expect(memory.latest('s', tx.ctx(2))).toEqual({ version: 1, state: 'a' });
    expect(memory.committedEntry('s')).toBeUndefined();
    expect(memory.latest('s', transaction().ctx(1))).toBeUndefined();
    tx.commit();
    expect(memory.committedEntry('s')).toEqual({ version: 1, state: 'a' });
    expect(memory.latest('s', transaction().ctx(1))).toEqual({ version: 1, state: 'a' });
  });

  it('forgets what an undone command left, and keeps it out of the committed entries', () => {
    const memory = new StreamMemory<Entry>('test', 10);
    committed(memory, 's', { version: 1, state: 'a' });
    const tx = transaction();
    memory.remember('s', { version: 2, state: 'b' }, tx.ctx(1));
    tx.memory.undoFrom(1);
    expect(memory.latest('s', tx.ctx(2))).toEqual({ version: 1, state: 'a' });
  });

  it('never lets an older version replace a newer committed one', () => {
    const memory = new StreamMemory<Entry>('test', 10);
    committed(memory, 's', { version: 5, state: 'new' });
    committed(memory, 's', { version: 4, state: 'old' });
    expect(memory.committedEntry('s')).toEqual({ version: 5, state: 'new' });
    committed(memory, 's', { version: 6, state: 'newer' });
    expect(memory.committedEntry('s')).toEqual({ version: 6, state: 'newer' });
  });

  it('lets the least recently written stream go first when full', () => {
    const memory = new StreamMemory<Entry>('test', 2);
    committed(memory, 'a', { version: 1, state: 'a1' });
    committed(memory, 'b', { version: 1, state: 'b1' });
    committed(memory, 'a', { version: 2, state: 'a2' });
    committed(memory, 'c', { version: 1, state: 'c1' });
    expect(memory.committedEntry('b')).toBeUndefined();
    expect(memory.committedEntry('a')).toEqual({ version: 2, state: 'a2' });
    expect(memory.committedEntry('c')).toEqual({ version: 1, state: 'c1' });
  });

  it('keeps the entries of two memories apart within one transaction', () => {
    const first = new StreamMemory<Entry>('first', 10);
    const second = new StreamMemory<Entry>('second', 10);
    const tx = transaction();
    first.remember('s', { version: 1, state: 'first' }, tx.ctx(1));
    expect(second.latest('s', tx.ctx(2))).toBeUndefined();
  });
});

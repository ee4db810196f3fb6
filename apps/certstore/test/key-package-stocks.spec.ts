import type { KeyPackagesEvent, KeyPackagesState } from '@p2/domain';
import { KeyPackageStocks } from '../src/application/key-package-stocks';
import { UnitMemory } from '../src/application/unit-memory';
import { groupCommitTransaction } from './group-commit-transaction';

describe('KeyPackageStocks: the stocks a certstore keeps between uploads', () => {
  const stream = 'keypackages-alice@example.com';
  const stockOf = (sessionId: string, ...unclaimed: string[]) => ({ sessionId, unclaimed });
  const added = (serial: string, sessionId: string, ...initKeys: string[]) =>
    ({ type: 'KeyPackagesAdded', data: { federationId: 'alice@example.com', sessionId, serial, keyPackages: initKeys.map((initKey) => ({ initKey })) } }) as unknown as KeyPackagesEvent;

  const transaction = groupCommitTransaction;

  /** Remembers `state` of `serials` at `version`, decided into `events`, as a committed command. */
  function keep(stocks: KeyPackageStocks, version: number, serials: string[], state: KeyPackagesState, events: KeyPackagesEvent[] = []): void {
    const tx = transaction();
    stocks.remember({ streamId: stream, version, state }, new Set(serials), events, tx.ctx(1));
    tx.commit();
  }

  it('keeps the other certs of an entry of the same version when one more cert is read', () => {
    const stocks = new KeyPackageStocks();
    keep(stocks, 7, ['1'], { stock: { '1': stockOf('phone', 'a', 'b') } });
    const widened = stocks.widen(stream, '2', 7, { stock: { '2': stockOf('laptop', 'c') } }, transaction().ctx(1));
    expect([...widened.serials].sort()).toEqual(['1', '2']);
    expect(widened.state).toEqual({ stock: { '1': stockOf('phone', 'a', 'b'), '2': stockOf('laptop', 'c') } });
  });

  it('a cert read with nothing in stock is known to hold nothing, not taken from the entry', () => {
    const stocks = new KeyPackageStocks();
    keep(stocks, 3, ['1'], { stock: { '1': stockOf('phone', 'a'), '9': stockOf('tablet', 'stale') } });
    const widened = stocks.widen(stream, '9', 3, { stock: {} }, transaction().ctx(1));
    expect(widened.state).toEqual({ stock: { '1': stockOf('phone', 'a') } });
    expect([...widened.serials].sort()).toEqual(['1', '9']);
  });

  it('drops the entry when the stream moved past it (another writer): only the cert read holds', () => {
    const stocks = new KeyPackageStocks();
    keep(stocks, 7, ['1'], { stock: { '1': stockOf('phone', 'a') } });
    const widened = stocks.widen(stream, '2', 8, { stock: { '2': stockOf('laptop', 'c') } }, transaction().ctx(1));
    expect([...widened.serials]).toEqual(['2']);
    expect(widened.state).toEqual({ stock: { '2': stockOf('laptop', 'c') } });
  });

  it('a cert read again replaces what the entry held of it', () => {
    const stocks = new KeyPackageStocks();
    keep(stocks, 7, ['1', '2'], { stock: { '1': stockOf('phone', 'a'), '2': stockOf('laptop', 'c') } });
    const widened = stocks.widen(stream, '1', 7, { stock: { '1': stockOf('phone', 'z') } }, transaction().ctx(1));
    expect([...widened.serials]).toEqual(['1']);
    expect(widened.state).toEqual({ stock: { '1': stockOf('phone', 'z') } });
  });

  it('get answers for every cert of a widened entry, at the version its command committed', () => {
    const stocks = new KeyPackageStocks();
    keep(stocks, 7, ['1'], { stock: { '1': stockOf('phone', 'a') } });
    const { serials, state } = stocks.widen(stream, '2', 7, { stock: { '2': stockOf('laptop') } }, transaction().ctx(1));
    keep(stocks, 7, [...serials], state, [added('2', 'laptop', 'd')]);
    const ctx = transaction().ctx(1);
    expect(stocks.get(stream, '1', ctx)).toMatchObject({ version: 8, state: { stock: { '1': stockOf('phone', 'a'), '2': stockOf('laptop', 'd') } } });
    expect(stocks.get(stream, '2', ctx)?.version).toBe(8);
    expect(stocks.get(stream, '3', ctx)).toBeUndefined();
  });

  it('what a command decided holds for the later commands of its transaction at once, and for others once it committed', () => {
    const stocks = new KeyPackageStocks();
    const tx = transaction();
    stocks.remember({ streamId: stream, version: 4, state: { stock: { '1': stockOf('phone') } } }, new Set(['1']), [added('1', 'phone', 'a')], tx.ctx(1));
    expect(stocks.get(stream, '1', tx.ctx(2))).toMatchObject({ version: 5, state: { stock: { '1': stockOf('phone', 'a') } } });
    expect(stocks.get(stream, '1', transaction().ctx(1))).toBeUndefined();
    tx.commit();
    expect(stocks.get(stream, '1', transaction().ctx(1))?.version).toBe(5);
  });

  it('a command undone takes what it left with it, and so does every command after it', () => {
    const stocks = new KeyPackageStocks();
    keep(stocks, 4, ['1'], { stock: { '1': stockOf('phone') } });
    const tx = transaction();
    stocks.remember({ streamId: stream, version: 4, state: { stock: { '1': stockOf('phone') } } }, new Set(['1']), [added('1', 'phone', 'a')], tx.ctx(3));
    stocks.remember({ streamId: stream, version: 5, state: { stock: { '1': stockOf('phone', 'a') } } }, new Set(['1']), [added('1', 'phone', 'b')], tx.ctx(5));
    expect(stocks.get(stream, '1', tx.ctx(6))?.version).toBe(6);
    tx.memory.undoFrom(3); // ROLLBACK TO SAVEPOINT of the command that ran as owner 3
    expect(stocks.get(stream, '1', tx.ctx(7))).toMatchObject({ version: 4, state: { stock: { '1': stockOf('phone') } } });
  });
});

describe('UnitMemory', () => {
  it('undoFrom drops what the command and the commands after it set, and keeps what came before', () => {
    const memory = new UnitMemory();
    memory.of(1).set('a', 'one');
    memory.of(2).set('b', 'two');
    memory.of(3).set('c', 'three');
    memory.undoFrom(2);
    const later = memory.of(4);
    expect([later.get('a'), later.get('b'), later.get('c')]).toEqual(['one', undefined, undefined]);
  });
});

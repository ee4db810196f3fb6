import type { Sql } from '@p2/event-store';
import { INBOX_ORDER_LOCK_KEY, PROJECTIONS, activeRootSerialLater, inboxOrderModeOf, orderInboxBeforeAppend } from '../src';

/** What was deferred, in order. */
function recordingSql(): { db: Sql; deferred: { text: string; params: readonly unknown[] }[] } {
  const deferred: { text: string; params: readonly unknown[] }[] = [];
  const db: Sql = {
    defer: (text, params = []) => void deferred.push({ text, params }),
    deferRead: (text, params = []) => {
      deferred.push({ text, params });
      return { rows: undefined };
    },
    query: async () => {
      throw new Error('no round trip expected');
    },
    flush: async () => undefined,
  };
  return { db, deferred };
}

const events = (...types: string[]) => types.map((type) => ({ type }));

/** docs/architecture.md#rebuild-order: which appends take the inbox-order lock, and how. */
describe('the inbox-order lock', () => {
  it('a server key rotation takes it exclusively, whatever else is appended with it', () => {
    expect(inboxOrderModeOf(events('ServerKeyRotated'))).toBe('exclusive');
    expect(inboxOrderModeOf(events('IdCertInvalidated', 'ServerKeyRotated'))).toBe('exclusive');
    expect(inboxOrderModeOf(events('ServerKeyRotated', 'IdCertInvalidated'))).toBe('exclusive');
  });

  it('every other event the inbox projection handles takes it shared', () => {
    const inbox = PROJECTIONS.find((p) => p.name === 'session-inbox')!;
    for (const type of inbox.handles.filter((t) => t !== 'ServerKeyRotated')) expect([type, inboxOrderModeOf(events(type))]).toEqual([type, 'shared']);
  });

  it('events that change which certificates pick the recipients take it shared', () => {
    for (const type of ['IdCertIssued', 'IdCertRotated', 'IdCertInvalidated', 'ServerKeyGenerated']) expect([type, inboxOrderModeOf(events(type))]).toEqual([type, 'shared']);
    expect(inboxOrderModeOf(events('SessionOpened', 'IdCertIssued'))).toBe('shared');
  });

  it('KeyPackage, key material, token and foreign-cert writes take nothing', () => {
    for (const type of [
      'KeyPackagesAdded',
      'LastResortKeyPackageReplaced',
      'KeyPackageClaimed',
      'KeyMaterialStored',
      'KeyMaterialDeleted',
      'ActorRegistered',
      'SessionOpened',
      'SessionLoggedOut',
      'SessionIdentified',
      'ForeignIdCertCached',
    ]) {
      expect([type, inboxOrderModeOf(events(type))]).toEqual([type, undefined]);
    }
    expect(inboxOrderModeOf([])).toBeUndefined();
  });

  it('a claim that serves a last resort takes it, one that hands out only regular packages does not', () => {
    expect(inboxOrderModeOf(events('KeyPackageClaimed', 'LastResortKeyPackageServed'))).toBe('shared');
    expect(inboxOrderModeOf(events('KeyPackageClaimed', 'KeyPackageClaimed'))).toBeUndefined();
  });

  it('is deferred as one statement on the fixed key, before what the caller defers next', () => {
    const { db, deferred } = recordingSql();
    orderInboxBeforeAppend(db, events('LastResortKeyPackageServed'));
    orderInboxBeforeAppend(db, events('KeyPackagesAdded'));
    orderInboxBeforeAppend(db, events('ServerKeyRotated'));
    expect(deferred.map((d) => [d.text.replace(/^\/\* plan once \*\/ /, ''), d.params])).toEqual([
      ['SELECT pg_advisory_xact_lock_shared($1)', [INBOX_ORDER_LOCK_KEY]],
      ['SELECT pg_advisory_xact_lock($1)', [INBOX_ORDER_LOCK_KEY]],
    ]);
  });

  it('a signer takes it shared before it share-locks the root row, in the same message', () => {
    const { db, deferred } = recordingSql();
    activeRootSerialLater(db);
    expect(deferred.map((d) => [d.text, d.params])).toEqual([
      [`SELECT pg_advisory_xact_lock_shared(${INBOX_ORDER_LOCK_KEY})`, []],
      [expect.stringMatching(/FROM server_certs WHERE active_until IS NULL FOR SHARE$/), []],
    ]);
  });
});

import { SERVER_STREAM, actorStream, foreignSessionStream, inboxStream, keyMaterialStream, keyPackagesStream } from '@p2/contracts';
import type { ActorEvent, KeyMaterialEvent, KeyPackagesEvent } from '@p2/domain';
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

const FID = 'xavier@example.com';
const ACTOR = actorStream(FID);
const INBOX = inboxStream(FID, 'x1');
const KEY_PACKAGES = keyPackagesStream(FID);
const KEY_MATERIAL = keyMaterialStream(FID);

/** Every event the actor decider appends; a new one is a compile error here until it is listed. */
const ACTOR_EVENTS: Readonly<Record<ActorEvent['type'], true>> = {
  ActorRegistered: true,
  SessionOpened: true,
  IdCertIssued: true,
  SessionLoggedOut: true,
  SessionDeleted: true,
  IdCertInvalidated: true,
  IdCertRotated: true,
  SessionIdentified: true,
};

/** docs/architecture.md#rebuild-order: which appends take the inbox-order lock, and how. */
describe('the inbox-order lock', () => {
  it('a server key rotation takes it exclusively, whatever else is appended with it', () => {
    expect(inboxOrderModeOf(SERVER_STREAM, events('ServerKeyRotated'))).toBe('exclusive');
    expect(inboxOrderModeOf(SERVER_STREAM, events('IdCertInvalidated', 'ServerKeyRotated'))).toBe('exclusive');
    expect(inboxOrderModeOf(SERVER_STREAM, events('ServerKeyRotated', 'IdCertInvalidated'))).toBe('exclusive');
  });

  it('every other event the inbox projection handles takes it shared', () => {
    const inbox = PROJECTIONS.find((p) => p.name === 'session-inbox')!;
    const others = inbox.handles.filter((t) => t !== 'ServerKeyRotated');
    // the loop below asserts nothing about an empty list
    expect(others.length).toBeGreaterThan(0);
    for (const type of others) expect([type, inboxOrderModeOf(INBOX, events(type))]).toEqual([type, 'shared']);
  });

  it('events that change which certificates pick the recipients take it shared', () => {
    for (const type of ['IdCertIssued', 'IdCertRotated', 'IdCertInvalidated']) expect([type, inboxOrderModeOf(ACTOR, events(type))]).toEqual([type, 'shared']);
    expect(inboxOrderModeOf(SERVER_STREAM, events('ServerKeyGenerated'))).toBe('shared');
    expect(inboxOrderModeOf(ACTOR, events('SessionOpened', 'IdCertIssued'))).toBe('shared');
  });

  // A rotation that declares its old key compromised appends to actors' streams while it holds the
  // lock exclusively: a logout or identification that held a row of one of them, uncommitted, and
  // then asked for the lock (for the next command of its batch) deadlocked with it.
  it('every append to an actor stream takes it, at least shared, whatever its events', () => {
    const types = Object.keys(ACTOR_EVENTS);
    expect(types.map((type) => [type, inboxOrderModeOf(ACTOR, events(type))])).toEqual(types.map((type) => [type, 'shared']));
    // decided by the stream: an actor event no projection here handles yet is covered as well
    expect(inboxOrderModeOf(ACTOR, events('SomeLaterActorEvent'))).toBe('shared');
    // … while an append of nothing inserts nothing, and takes nothing
    expect(inboxOrderModeOf(ACTOR, [])).toBeUndefined();
  });

  it('KeyPackage, key material and foreign-cert writes take nothing: they stay off the lock', () => {
    const keyPackages: KeyPackagesEvent['type'][] = ['KeyPackagesAdded', 'LastResortKeyPackageReplaced', 'KeyPackageClaimed'];
    for (const type of keyPackages) expect([type, inboxOrderModeOf(KEY_PACKAGES, events(type))]).toEqual([type, undefined]);
    const keyMaterial: KeyMaterialEvent['type'][] = ['KeyMaterialStored', 'KeyMaterialDeleted'];
    for (const type of keyMaterial) expect([type, inboxOrderModeOf(KEY_MATERIAL, events(type))]).toEqual([type, undefined]);
    expect(inboxOrderModeOf(foreignSessionStream('yara@other.example', 'y1'), events('ForeignIdCertCached'))).toBeUndefined();
    expect(inboxOrderModeOf(KEY_PACKAGES, [])).toBeUndefined();
  });

  it('a claim that serves a last resort takes it, one that hands out only regular packages does not', () => {
    expect(inboxOrderModeOf(KEY_PACKAGES, events('KeyPackageClaimed', 'LastResortKeyPackageServed'))).toBe('shared');
    expect(inboxOrderModeOf(KEY_PACKAGES, events('KeyPackageClaimed', 'KeyPackageClaimed'))).toBeUndefined();
  });

  it('is deferred as one statement on the fixed key, before what the caller defers next', () => {
    const { db, deferred } = recordingSql();
    orderInboxBeforeAppend(db, KEY_PACKAGES, events('LastResortKeyPackageServed'));
    orderInboxBeforeAppend(db, KEY_PACKAGES, events('KeyPackagesAdded'));
    orderInboxBeforeAppend(db, SERVER_STREAM, events('ServerKeyRotated'));
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

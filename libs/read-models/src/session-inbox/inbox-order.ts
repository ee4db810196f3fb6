import { isActorStream } from '@p2/contracts';
import { planOnce, type Sql } from '@p2/event-store';
import { idCertsProjection } from '../id-certs/id-certs.projection';
import { sessionInboxProjection } from './session-inbox.projection';

/**
 * Arbitrary constant, beside the other advisory locks (727_000…): the inbox-order lock
 * (docs/architecture.md#rebuild-order). The inbox projection numbers a session's items in the order
 * transactions take its cursor row, a rebuild in the order of their events' global positions, which
 * PostgreSQL hands out at each INSERT. Within one partition the two agree (one transaction at a
 * time); across partitions only a server key rotation meets an actor's writes, as it delivers to
 * every session. A rotation takes this lock exclusively before its INSERT, every other transaction
 * that touches the inbox or the certificates that pick its recipients, or appends to an actor's
 * stream, takes it shared before its own: between a rotation and any of them, insert order, cursor
 * order and commit order are then one order. Actor partitions share it among themselves, as no two
 * of them deliver to one session.
 */
export const INBOX_ORDER_LOCK_KEY = 727_003;

export type InboxOrderMode = 'shared' | 'exclusive';

/** One parameter list for every lock statement: deferring one allocates nothing of its own. */
const KEY_PARAMS: readonly unknown[] = [INBOX_ORDER_LOCK_KEY];

/** Before an append: planOnce, as it goes between planOnce statements (a stream read, the INSERT into
 * events), where a statement of another kind would switch the plan settings off and on again around
 * it. A transaction lock: it ends with the transaction, or with the savepoint of a command that is
 * rolled back (whose INSERT goes with it). */
const BEFORE_APPEND: Readonly<Record<InboxOrderMode, string>> = {
  shared: planOnce('SELECT pg_advisory_xact_lock_shared($1)'),
  exclusive: planOnce('SELECT pg_advisory_xact_lock($1)'),
};

/** Before the root row's lock, a statement without parameters (neither is planOnce): the same lock,
 * no change of plan settings between them. */
const BEFORE_ROOT: Readonly<Record<InboxOrderMode, string>> = {
  shared: `SELECT pg_advisory_xact_lock_shared(${INBOX_ORDER_LOCK_KEY})`,
  exclusive: `SELECT pg_advisory_xact_lock(${INBOX_ORDER_LOCK_KEY})`,
};

/**
 * Which events take the lock, and how. A rotation delivers to every session: exclusive. Every other
 * event the inbox projection handles, or that changes id_certs (where a delivery picks its
 * recipients), in shared mode: a session opened, deleted or re-certified while a rotation runs
 * would otherwise get its SERVER_KEY_CHANGE live and not in a rebuild, or the reverse. Events of
 * neither kind (KeyPackage uploads and claims of regular ones, key material, tokens) take nothing,
 * unless they go to an actor's stream (see inboxOrderModeOf).
 */
const MODE_OF_EVENT: ReadonlyMap<string, InboxOrderMode> = new Map(
  [...sessionInboxProjection.handles, ...idCertsProjection.handles].map((type) => [type, type === 'ServerKeyRotated' ? 'exclusive' : 'shared']),
);

/**
 * The mode in which a transaction appending `events` to `streamId` takes the lock before their
 * INSERT, if any. Any append to an actor's stream takes it at least shared, whatever its events (a
 * logout, an identification, a registration): a rotation that declares its old key compromised
 * appends to actors' streams while it holds the lock exclusively, so a transaction holding an
 * uncommitted row of one of them and then asking for the lock would wait for the rotation while
 * the rotation waits for that row (a deadlock, docs/architecture.md#rebuild-order). Taken before
 * the row, it makes such a transaction come wholly before the rotation or wholly after it. Decided
 * by the stream, so that an actor event added later cannot forget it; KeyPackage and key material
 * streams stay lock-free.
 */
export function inboxOrderModeOf(streamId: string, events: readonly { readonly type: string }[]): InboxOrderMode | undefined {
  if (events.length === 0) return undefined;
  let mode: InboxOrderMode | undefined = isActorStream(streamId) ? 'shared' : undefined;
  for (const event of events) {
    const of = MODE_OF_EVENT.get(event.type);
    if (of === 'exclusive') return of;
    mode ??= of;
  }
  return mode;
}

/** Before appending `events` to `streamId` (their INSERT must come after it): defers taking the
 * lock for the rest of the caller's transaction if they need it; it leaves with the next statement,
 * no round trip of its own. Taking it again in a mode the transaction holds is granted at once;
 * shared → exclusive in one transaction is allowed (a batch with an actor's command before a
 * rotation). */
export function orderInboxBeforeAppend(db: Pick<Sql, 'defer'>, streamId: string, events: readonly { readonly type: string }[]): void {
  const mode = inboxOrderModeOf(streamId, events);
  if (mode !== undefined) db.defer(BEFORE_APPEND[mode], KEY_PARAMS);
}

/** Before the statement that locks the active root row: the lock in `mode` (the root's lock order,
 * docs/architecture.md#rebuild-order). */
export function orderInboxBeforeRoot(db: Pick<Sql, 'defer'>, mode: InboxOrderMode): void {
  db.defer(BEFORE_ROOT[mode]);
}

import { BatchedStatement } from '../batched-statement';
import type { Reader } from '../reader';

/** One inbox item as GET /events and the WebSocket gateway send it: the 2025 gateway envelope plus
 * a readable type (docs/protocol.md#events-inbox). */
export interface InboxItem {
  readonly type: string;
  readonly n: 'core';
  readonly op?: number;
  readonly d: unknown;
  readonly s: number;
}

/** A session_inbox row as the inbox queries select it. */
interface InboxRow {
  readonly seq: string;
  readonly type: string;
  readonly op: number | null;
  readonly payload: unknown;
}

/** The item a row stands for; GET /events and the WebSocket gateway send the same. */
function inboxItemFromRow(r: InboxRow): InboxItem {
  return { type: r.type, n: 'core', ...(r.op === null ? {} : { op: r.op }), d: r.payload, s: Number(r.seq) };
}

/** Items are served oldest first; a poll returns at most this many and the rest on the next. */
export const INBOX_PAGE = 500;

/** A session, named by its actor and session ID. */
export interface SessionRef {
  readonly federationId: string;
  readonly sessionId: string;
}

const unfetched = new BatchedStatement<SessionRef>(
  ['federation_id text', 'session_id text'],
  (s) => [s.federationId, s.sessionId],
  // The cursor is read first and the items after it: seq > fetched_seq is then an index condition,
  // so the scan starts past the acknowledged items, whose dead index entries stay until a vacuum.
  // The lateral join fixes that order in the generic plan too.
  (values) => `SELECT q.i, r.seq::text AS seq, r.type, r.op, r.payload
       FROM ${values}
       JOIN session_inbox_cursors c ON c.federation_id = q.federation_id AND c.session_id = q.session_id
       CROSS JOIN LATERAL (
         SELECT i.seq, i.type, i.op, i.payload FROM session_inbox i
          WHERE i.federation_id = c.federation_id AND i.session_id = c.session_id AND i.seq > c.fetched_seq
          ORDER BY i.seq LIMIT ${INBOX_PAGE}
       ) r
      ORDER BY q.i, r.seq`,
);

/** The items each session has not fetched yet, oldest first, at most {@link INBOX_PAGE} a session:
 * up to 64 sessions (LOOKUPS_PER_STATEMENT) in one statement, answered in the order of `sessions`
 * (GET /events of concurrent requests, docs/architecture.md#token-lookups). */
export async function unfetchedItemsOfSessions(db: Reader, sessions: readonly SessionRef[]): Promise<InboxItem[][]> {
  const rows = await unfetched.query<InboxRow & { i: number }>(db, sessions);
  const items: InboxItem[][] = sessions.map(() => []);
  for (const row of rows) items[row.i]!.push(inboxItemFromRow(row));
  return items;
}

/** An inbox item ready to go out: its sequence number and its JSON text (serialised once, sent to
 * every socket of the session). */
export interface EncodedItem {
  readonly s: number;
  readonly json: string;
}

/** How far a session's inbox goes: `fetchedUpTo` was acknowledged (those rows are deleted),
 * `lastSeq` is the newest item ever queued for it. Both 0 for a session that never had one. */
export interface InboxCursor {
  readonly fetchedUpTo: number;
  readonly lastSeq: number;
}

/** A session and the sequence number after which its items are wanted. */
export interface InboxWant {
  readonly federationId: string;
  readonly sessionId: string;
  readonly after: number;
}

/** How far a session's inbox goes. */
export async function inboxCursor(db: Reader, federationId: string, sessionId: string): Promise<InboxCursor> {
  const rows: { fetched_seq: string; last_seq: string }[] = await db.query(
    `SELECT fetched_seq::text AS fetched_seq, last_seq::text AS last_seq FROM session_inbox_cursors WHERE federation_id = $1 AND session_id = $2`,
    [federationId, sessionId],
  );
  return { fetchedUpTo: Number(rows[0]?.fetched_seq ?? 0), lastSeq: Number(rows[0]?.last_seq ?? 0) };
}

/** Up to `limit` items after `want.after` for each want, oldest first, in one query (one event
 * may concern every connected session of an actor, or every session). */
export async function inboxItemsAfter(db: Reader, wants: readonly InboxWant[], limit: number): Promise<EncodedItem[][]> {
  if (wants.length === 0) return [];
  const rows: (InboxRow & { i: string })[] = await db.query(
    `SELECT w.i::text AS i, r.seq::text AS seq, r.type, r.op, r.payload
       FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS w(federation_id, session_id, after, i)
       CROSS JOIN LATERAL (
         SELECT seq, type, op, payload FROM session_inbox s
          WHERE s.federation_id = w.federation_id AND s.session_id = w.session_id AND s.seq > w.after
          ORDER BY seq LIMIT $4
       ) r
      ORDER BY w.i, r.seq`,
    [wants.map((w) => w.federationId), wants.map((w) => w.sessionId), wants.map((w) => w.after), limit],
  );
  const result: EncodedItem[][] = wants.map(() => []);
  for (const row of rows) result[Number(row.i) - 1]!.push(encode(row));
  return result;
}

/** The items of one session with these sequence numbers that are still queued (a resend). */
export async function inboxItemsBySequence(db: Reader, federationId: string, sessionId: string, seqs: readonly number[]): Promise<EncodedItem[]> {
  if (seqs.length === 0) return [];
  const rows: InboxRow[] = await db.query(
    `SELECT seq::text AS seq, type, op, payload FROM session_inbox
      WHERE federation_id = $1 AND session_id = $2 AND seq = ANY($3::bigint[]) ORDER BY session_inbox.seq`, // not the text alias
    [federationId, sessionId, seqs],
  );
  return rows.map(encode);
}

function encode(row: InboxRow): EncodedItem {
  const item = inboxItemFromRow(row);
  return { s: item.s, json: JSON.stringify(item) };
}

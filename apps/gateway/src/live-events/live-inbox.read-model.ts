import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { inboxItemFromRow, type InboxRow } from '../events/inbox.read-model';

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

/** The WebSocket gateway's reads of the session_inbox projection (the same rows as GET /events). */
@Injectable()
export class LiveInboxReadModel {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async cursor(federationId: string, sessionId: string): Promise<InboxCursor> {
    const rows: { fetched_seq: string; last_seq: string }[] = await this.db.query(
      `SELECT fetched_seq::text AS fetched_seq, last_seq::text AS last_seq FROM session_inbox_cursors WHERE federation_id = $1 AND session_id = $2`,
      [federationId, sessionId],
    );
    return { fetchedUpTo: Number(rows[0]?.fetched_seq ?? 0), lastSeq: Number(rows[0]?.last_seq ?? 0) };
  }

  /** Up to `limit` items after `want.after` for each want, oldest first, in one query (one event
   * may concern every connected session of an actor, or every session). */
  async itemsAfter(wants: readonly InboxWant[], limit: number): Promise<EncodedItem[][]> {
    if (wants.length === 0) return [];
    const rows: (InboxRow & { i: string })[] = await this.db.query(
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
  async itemsBySequence(federationId: string, sessionId: string, seqs: readonly number[]): Promise<EncodedItem[]> {
    if (seqs.length === 0) return [];
    const rows: InboxRow[] = await this.db.query(
      `SELECT seq::text AS seq, type, op, payload FROM session_inbox
        WHERE federation_id = $1 AND session_id = $2 AND seq = ANY($3::bigint[]) ORDER BY seq`,
      [federationId, sessionId, seqs],
    );
    return rows.map(encode);
  }

  /** When the certificate behind a token stops being valid (its notAfter). */
  async certNotAfter(serial: string): Promise<Date | undefined> {
    const rows: { not_after: Date }[] = await this.db.query(`SELECT not_after FROM id_certs WHERE serial = $1`, [serial]);
    return rows[0]?.not_after;
  }
}

function encode(row: InboxRow): EncodedItem {
  const item = inboxItemFromRow(row);
  return { s: item.s, json: JSON.stringify(item) };
}

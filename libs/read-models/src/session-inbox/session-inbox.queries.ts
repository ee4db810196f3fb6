import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

/** One item of GET /events (profile D15): the 2025 gateway envelope plus a readable type. */
export interface InboxItem {
  readonly type: string;
  readonly n: 'core';
  readonly op?: number;
  readonly d: unknown;
  readonly s: number;
}

/** A session_inbox row as the inbox queries select it. */
export interface InboxRow {
  readonly seq: string;
  readonly type: string;
  readonly op: number | null;
  readonly payload: unknown;
}

/** The item a row stands for; GET /events and the WebSocket gateway send the same. */
export function inboxItemFromRow(r: InboxRow): InboxItem {
  return { type: r.type, n: 'core', ...(r.op === null ? {} : { op: r.op }), d: r.payload, s: Number(r.seq) };
}

/** Items are served oldest first; a poll returns at most this many and the rest on the next. */
export const INBOX_PAGE = 500;

@Injectable()
export class InboxReadModel {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async unfetched(federationId: string, sessionId: string): Promise<InboxItem[]> {
    const rows: InboxRow[] = await this.db.query(
      `SELECT i.seq::text AS seq, i.type, i.op, i.payload FROM session_inbox i
         JOIN session_inbox_cursors c ON c.federation_id = i.federation_id AND c.session_id = i.session_id
        WHERE i.federation_id = $1 AND i.session_id = $2 AND i.seq > c.fetched_seq
        ORDER BY i.seq LIMIT ${INBOX_PAGE}`,
      [federationId, sessionId],
    );
    return rows.map(inboxItemFromRow);
  }
}

import { planOnce, type Sql } from '@p2/event-store';
import type {
  IdCertInvalidatedData,
  IdCertIssuedData,
  InboxAcknowledgedData,
  LastResortKeyPackageServedData,
  ServerKeyRotatedData,
  SessionDeletedData,
} from '@p2/contracts';
import { notInvalidatedAt, validAt } from '../id-certs/id-certs.queries';
import type { Projection } from '../projection';

/** The 2025 gateway envelope plus a readable type (docs/protocol.md#event-items). */
export const INBOX_EVENT = {
  newSession: { type: 'NEW_SESSION', op: 3 },
  certificateInvalidation: { type: 'ACTOR_CERTIFICATE_INVALIDATION', op: 4 },
  serverKeyChange: { type: 'SERVER_KEY_CHANGE', op: 6 },
  lowKeyPackages: { type: 'LOW_KEY_PACKAGES', op: null },
} as const;

type InboxEventKind = (typeof INBOX_EVENT)[keyof typeof INBOX_EVENT];

/** Who the event is for: the sessions of an actor (or of every actor) whose current ID-Cert is
 * valid at `at`, as the id_certs read model says at this point of the log. */
interface Recipients {
  readonly federationId?: string;
  readonly sessionId?: string;
  readonly exceptSessionId?: string;
}

const unixSeconds = (iso: string) => Math.floor(Date.parse(iso) / 1000);

/** The events a session has not fetched yet (GET /events). Items are addressed by (actor,
 * session ID), so they survive a cert rotation and are dropped when the session is deleted.
 * Sequence numbers grow per session and are never reused. */
export const sessionInboxProjection: Projection = {
  name: 'session-inbox',
  tables: ['session_inbox', 'session_inbox_cursors'],
  handles: ['IdCertIssued', 'IdCertInvalidated', 'ServerKeyRotated', 'SessionDeleted', 'InboxAcknowledged', 'LastResortKeyPackageServed'],
  async apply(db, event) {
    switch (event.type) {
      case 'IdCertIssued': {
        // Only a new session is issued a cert this way (a rotation is IdCertRotated).
        const d = event.data as IdCertIssuedData;
        await deliver(db, INBOX_EVENT.newSession, { cert: d.certPem }, d.issuedAt, {
          federationId: d.federationId,
          exceptSessionId: d.sessionId,
        });
        return;
      }
      case 'IdCertInvalidated': {
        const d = event.data as IdCertInvalidatedData;
        // idCertPem is read by the delivering statement itself: no round trip of its own
        const payload = { serial: d.serial, sessionId: d.sessionId, invalidSince: unixSeconds(d.invalidatedAt), reason: d.reason };
        await deliver(
          db,
          INBOX_EVENT.certificateInvalidation,
          payload,
          d.invalidatedAt,
          { federationId: d.federationId, exceptSessionId: d.sessionId },
          { idCertPemOf: d.serial },
        );
        return;
      }
      case 'ServerKeyRotated': {
        const d = event.data as ServerKeyRotatedData;
        await deliver(db, INBOX_EVENT.serverKeyChange, { cert: d.certPem, oldInvalidSince: unixSeconds(d.rotatedAt) }, d.rotatedAt, {});
        // KeyPackages carry certs of the old key: every session is asked for fresh ones
        // (docs/protocol.md#server-key-rotation)
        await deliver(db, INBOX_EVENT.lowKeyPackages, { reason: 'server-key-change' }, d.rotatedAt, {});
        return;
      }
      case 'LastResortKeyPackageServed': {
        const d = event.data as LastResortKeyPackageServedData;
        // the session is asked for a replacement once, when its last resort is first handed out
        if (d.previouslyServed) return;
        await deliver(db, INBOX_EVENT.lowKeyPackages, { reason: 'last-resort-served', serial: d.serial }, d.servedAt, {
          federationId: d.federationId,
          sessionId: d.sessionId,
        });
        return;
      }
      case 'SessionDeleted': {
        const d = event.data as SessionDeletedData;
        db.defer(`DELETE FROM session_inbox WHERE federation_id = $1 AND session_id = $2`, [d.federationId, d.sessionId]);
        db.defer(`UPDATE session_inbox_cursors SET fetched_seq = last_seq WHERE federation_id = $1 AND session_id = $2`, [
          d.federationId,
          d.sessionId,
        ]);
        return;
      }
      case 'InboxAcknowledged': {
        const d = event.data as InboxAcknowledgedData;
        db.defer(planOnce(`DELETE FROM session_inbox WHERE federation_id = $1 AND session_id = $2 AND seq <= $3`), [d.federationId, d.sessionId, d.upTo]);
        db.defer(
          planOnce(`UPDATE session_inbox_cursors SET fetched_seq = GREATEST(fetched_seq, LEAST($3::bigint, last_seq)) WHERE federation_id = $1 AND session_id = $2`),
          [d.federationId, d.sessionId, d.upTo],
        );
        return;
      }
      default:
        return;
    }
  },
};

/** One statement: pick the recipients, advance each one's sequence, insert the item.
 * `idCertPemOf`: the payload's `idCertPem` is that cert's PEM (null if there is none), read by the
 * statement. */
async function deliver(db: Sql, kind: InboxEventKind, payload: object, at: string, to: Recipients, options: { idCertPemOf?: string } = {}): Promise<void> {
  const params: unknown[] = [at];
  const where = [validAt('c', '$1'), notInvalidatedAt('c', '$1')];
  if (to.federationId !== undefined) where.push(`c.federation_id = $${params.push(to.federationId)}`);
  if (to.sessionId !== undefined) where.push(`c.session_id = $${params.push(to.sessionId)}`);
  if (to.exceptSessionId !== undefined) where.push(`c.session_id <> $${params.push(to.exceptSessionId)}`);
  const type = params.push(kind.type);
  const op = params.push(kind.op);
  const body = params.push(JSON.stringify(payload));
  const item =
    options.idCertPemOf === undefined
      ? `$${body}::jsonb`
      : `$${body}::jsonb || jsonb_build_object('idCertPem', (SELECT pem FROM id_certs WHERE serial = $${params.push(options.idCertPemOf)}))`;
  db.defer(
    `WITH recipients AS (
       SELECT DISTINCT c.federation_id, c.session_id FROM id_certs c WHERE ${where.join(' AND ')}
     ), advanced AS (
       INSERT INTO session_inbox_cursors AS cur (federation_id, session_id, last_seq, fetched_seq)
       SELECT federation_id, session_id, 1, 0 FROM recipients
       ON CONFLICT (federation_id, session_id) DO UPDATE SET last_seq = cur.last_seq + 1
       RETURNING cur.federation_id, cur.session_id, cur.last_seq
     )
     INSERT INTO session_inbox (federation_id, session_id, seq, type, op, payload, created_at)
     SELECT federation_id, session_id, last_seq, $${type}, $${op}::integer, ${item}, $1 FROM advanced`,
    params,
  );
}

import { readLater, type Later, type Sql } from '@p2/event-store';
import type { Reader } from '../reader';

/**
 * The one SQL form of "a certificate is not expired at T": T is at or before notAfter. X.509
 * validity is "from notBefore through notAfter, inclusive" (RFC 5280 §4.1.2.5), so a certificate is
 * still valid at the instant notAfter and no longer a moment later (docs/protocol.md#cert-validity).
 * `alias` names a row with `not_after`; `at` is a timestamptz parameter or expression.
 */
export function notExpiredAt(alias: string, at: string): string {
  return `${at} <= ${alias}.not_after`;
}

/** The one SQL form of "a certificate is valid at T": notBefore ≤ T ≤ notAfter, both inclusive
 * (docs/protocol.md#cert-validity). Invalidation is a separate question ({@link notInvalidatedAt}). */
export function validAt(alias: string, at: string): string {
  return `(${alias}.not_before <= ${at} AND ${notExpiredAt(alias, at)})`;
}

/** Not invalidated at T: never, or only after T (an invalidation at T ends validity at T). */
export function notInvalidatedAt(alias: string, at: string): string {
  return `(${alias}.invalidated_at IS NULL OR ${alias}.invalidated_at > ${at})`;
}

/** An actor certificate as GET /key/actor and GET /idcert/actor answer it. */
export interface ActorCertRow {
  readonly serial: string;
  readonly sessionId: string;
  readonly pem: string;
  readonly invalidatedAt: Date | null;
}

/** A row of the id_certs read model, as identify and extern announcements need it. */
export interface IdCertRecord {
  readonly serial: string;
  readonly federationId: string;
  readonly sessionId: string;
  readonly pem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly invalidatedAt: Date | null;
  readonly rootSerial: string;
}

/** Which of an actor's certificates a query is about (docs/protocol.md#certs-at-time-t,
 * docs/protocol.md#certs-in-range). */
export interface ActorCertSelection {
  /** the certificates the actor had at this instant */
  readonly at?: Date;
  /** every certificate whose validity overlaps this range, invalidated or not */
  readonly range?: { readonly from?: Date; readonly to?: Date };
  readonly sessionId?: string;
}

/**
 * An actor's certificates, in issuance order. With `at`: those issued at or before `at` (its whole second), valid at
 * `at` and not invalidated at `at`; with `range`: those whose validity overlaps it; with neither:
 * every certificate not expired at `now`, invalidated or not.
 */
export async function actorCerts(db: Reader, federationId: string, selection: ActorCertSelection, now: Date): Promise<ActorCertRow[]> {
  const params: unknown[] = [federationId];
  const where = ['c.federation_id = $1'];
  if (selection.range) {
    if (selection.range.from) where.push(notExpiredAt('c', `$${params.push(selection.range.from)}`));
    if (selection.range.to) where.push(`c.not_before <= $${params.push(selection.range.to)}`);
  } else if (selection.at) {
    const at = `$${params.push(selection.at)}`;
    // `at` names a whole second (the routes' timestamp) and issuance is kept to the millisecond: a
    // cert issued during that second counts, or a message signed with it in its first second, which
    // carries that second, would find no cert (docs/protocol.md#certs-at-time-t)
    where.push(`c.issued_at < ${at}::timestamptz + interval '1 second'`, validAt('c', at), notInvalidatedAt('c', at));
  } else {
    where.push(notExpiredAt('c', `$${params.push(now)}`));
  }
  if (selection.sessionId !== undefined) where.push(`c.session_id = $${params.push(selection.sessionId)}`);
  const rows: { serial: string; session_id: string; pem: string; invalidated_at: Date | null }[] = await db.query(
    `SELECT c.serial::text AS serial, c.session_id, c.pem, c.invalidated_at FROM id_certs c WHERE ${where.join(' AND ')} ORDER BY c.issued_at, c.serial`,
    params,
  );
  return rows.map((r) => ({ serial: r.serial, sessionId: r.session_id, pem: r.pem, invalidatedAt: r.invalidated_at }));
}

/** The certificate with this serial, whoever it belongs to. */
export async function idCert(db: Reader, serial: string): Promise<IdCertRecord | undefined> {
  const rows = await db.query<IdCertRecord[]>(
    `SELECT serial::text AS serial, federation_id AS "federationId", session_id AS "sessionId", pem, not_before AS "notBefore",
            not_after AS "notAfter", invalidated_at AS "invalidatedAt", root_serial::text AS "rootSerial"
       FROM id_certs WHERE serial = $1`,
    [serial],
  );
  return rows[0];
}

const ID_CERT_PEM = 'SELECT pem FROM id_certs WHERE serial = $1';

/** The PEM of the certificate with this serial, read with the caller's next statement (readLater). */
export function idCertPemLater(db: Sql, serial: string): Later<string | undefined> {
  return readLater<{ pem: string }, string | undefined>(db, ID_CERT_PEM, [serial], (rows) => rows[0]?.pem);
}

/** The public key (base64) recorded for `serial`, if that certificate is of this actor and session. */
export async function idCertPublicKey(db: Reader, cert: { serial: string; federationId: string; sessionId: string }): Promise<string | undefined> {
  const rows: { public_key: string }[] = await db.query(
    'SELECT public_key FROM id_certs WHERE serial = $1 AND federation_id = $2 AND session_id = $3',
    [cert.serial, cert.federationId, cert.sessionId],
  );
  return rows[0]?.public_key;
}

/** The actor certificates a root signed that are neither invalidated nor expired at `at`, by actor. */
export async function liveCertsOfRoot(db: Reader, rootSerial: string, at: Date): Promise<{ federationId: string; sessionId: string; serial: string }[]> {
  const rows: { federation_id: string; session_id: string; serial: string }[] = await db.query(
    `SELECT c.federation_id, c.session_id, c.serial::text AS serial FROM id_certs c
      WHERE c.root_serial = $1 AND c.invalidated_at IS NULL AND ${notExpiredAt('c', '$2')}
      ORDER BY c.federation_id, c.serial`,
    [rootSerial, at],
  );
  return rows.map((r) => ({ federationId: r.federation_id, sessionId: r.session_id, serial: r.serial }));
}

import { validAt } from '../id-certs/id-certs.queries';
import { readLater, type Later, type Sql } from '@p2/event-store';
import type { Reader } from '../reader';
import { orderInboxBeforeRoot } from '../session-inbox/inbox-order';

/** One of the home server's root certificates, current or past. */
export interface ServerCertRow {
  readonly serial: string;
  readonly pem: string;
  readonly publicKey: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly activeFrom: Date;
  readonly activeUntil: Date | null;
}

// camelCase aliases: the rows come out as ServerCertRow, no mapping by hand
const COLUMNS = `c.serial::text AS serial, c.pem, c.public_key AS "publicKey", c.not_before AS "notBefore", c.not_after AS "notAfter",
  c.active_from AS "activeFrom", c.active_until AS "activeUntil"`;

/** The root that was active at `at` and valid then (docs/protocol.md#cert-validity); without `at`
 * the active root, whatever its validity. `at` is a whole second (the routes' `timestamp`), while a
 * root's activation is kept to the millisecond: a root activated during that second counts, the
 * newest winning (docs/protocol.md#route-idcert-server), so a cert issued in the second its root was
 * generated or rotated still finds that root. */
export async function serverCertAt(db: Reader, at?: Date): Promise<ServerCertRow | undefined> {
  const rows = at
    ? await db.query<ServerCertRow[]>(
        `SELECT ${COLUMNS} FROM server_certs c
          WHERE c.active_from < $1::timestamptz + interval '1 second' AND (c.active_until IS NULL OR c.active_until > $1) AND ${validAt('c', '$1')}
          ORDER BY c.active_from DESC LIMIT 1`,
        [at],
      )
    : await db.query<ServerCertRow[]>(`SELECT ${COLUMNS} FROM server_certs c WHERE c.active_until IS NULL`);
  return rows[0];
}

/** The root with this serial, current or past. */
export async function serverCert(db: Reader, serial: string): Promise<ServerCertRow | undefined> {
  const rows = await db.query<ServerCertRow[]>(`SELECT ${COLUMNS} FROM server_certs c WHERE c.serial = $1`, [serial]);
  return rows[0];
}

type RootLock = 'share' | 'update';

const activeRootSql = (lock?: RootLock) =>
  `SELECT serial::text AS serial FROM server_certs WHERE active_until IS NULL${lock ? ` FOR ${lock.toUpperCase()}` : ''}`;

/** Whoever locks the root row holds the inbox-order lock first, in the same mode (a rotation
 * exclusively, a signer shared): a rotation takes both, and a signer's transaction may also take
 * the inbox-order lock for an event it appends. In one order everywhere, neither waits for the
 * other while holding what the other waits for. */
function lockRoot(db: Pick<Sql, 'defer'>, lock: RootLock): void {
  orderInboxBeforeRoot(db, lock === 'update' ? 'exclusive' : 'shared');
}

/**
 * The serial of the active root. With `lock`, the row is locked in the caller's transaction: a
 * signer share-locks it, so a rotation (which ends that row, under an update lock) waits for
 * certificates being signed under it. The inbox-order lock is taken before it (lockRoot).
 */
export async function activeRootSerial(db: Reader): Promise<string | undefined>;
export async function activeRootSerial(db: Sql, lock: RootLock): Promise<string | undefined>;
export async function activeRootSerial(db: Reader | Sql, lock?: RootLock): Promise<string | undefined> {
  if (lock) lockRoot(db as Sql, lock);
  const rows: { serial: string }[] = await db.query(activeRootSql(lock));
  return rows[0]?.serial;
}

/** `activeRootSerial` with a share lock, read with the caller's next statement (readLater). */
export function activeRootSerialLater(db: Sql): Later<string | undefined> {
  lockRoot(db, 'share');
  return readLater<{ serial: string }, string | undefined>(db, activeRootSql('share'), [], (rows) => rows[0]?.serial);
}

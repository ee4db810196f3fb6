import type { ChallengeState } from '@p2/domain';
import type { Reader } from '../reader';

/** A challenge as the gateway's first-pass checks of POST /session/identify need it. */
export interface ChallengeRecord {
  readonly state: ChallengeState;
  /** the serial of the cert whose identify used the challenge */
  readonly consumedBySerial: string | null;
}

/** The challenge with this value, in the shape the challenge decider folds (docs/protocol.md#challenges). */
export async function challengeRecord(db: Reader, challenge: string): Promise<ChallengeRecord | undefined> {
  const rows: { expires_at: Date; bound_federation_id: string | null; bound_session_id: string | null; consumed_at: Date | null; consumed_by_serial: string | null }[] =
    await db.query(
      `SELECT expires_at, bound_federation_id, bound_session_id, consumed_at, consumed_by_serial::text AS consumed_by_serial
         FROM challenges WHERE challenge = $1`,
      [challenge],
    );
  const row = rows[0];
  if (!row) return undefined;
  return {
    state: {
      issued: true,
      expiresAt: row.expires_at.toISOString(),
      ...(row.bound_federation_id === null ? {} : { boundFederationId: row.bound_federation_id }),
      ...(row.bound_session_id === null ? {} : { boundSessionId: row.bound_session_id }),
      consumed: row.consumed_at !== null,
    },
    consumedBySerial: row.consumed_by_serial,
  };
}

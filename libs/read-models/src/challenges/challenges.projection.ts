import type { ChallengeConsumedData, ChallengeIssuedData } from '@p2/contracts';
import type { Projection } from '../projection';

/** How long after its expiry a challenge row may be deleted. Far longer than any transaction or
 * clock skew between certstores, so live application (commit order) and a rebuild (log order)
 * delete exactly the same rows. */
const KEEP_AFTER_EXPIRY = '1 hour';

/**
 * Challenge strings (docs/protocol.md#challenge-strings) for the gateway's first-pass checks of POST /session/identify; the
 * certstore decides on the challenge's own stream, never on this table.
 *
 * Expired challenges: readers compare `expires_at` with their clock, so an expired row is dead at
 * once. Cleanup stays a pure function of the log (a projection must not read now()): each
 * ChallengeIssued deletes the rows that had expired an hour before ITS `issuedAt`, an indexed
 * range delete that is usually empty. The table thus holds about TTL + 1 h of issued challenges;
 * after a quiet spell the rows of the last busy hour stay until the next challenge is issued. The
 * events themselves stay in the log (the log is the truth and is never rewritten).
 */
export const challengesProjection: Projection = {
  name: 'challenges',
  tables: ['challenges'],
  handles: ['ChallengeIssued', 'ChallengeConsumed'],
  async apply(db, event) {
    if (event.type === 'ChallengeIssued') {
      const d = event.data as ChallengeIssuedData;
      db.defer(`DELETE FROM challenges WHERE expires_at < $1::timestamptz - interval '${KEEP_AFTER_EXPIRY}'`, [d.issuedAt]);
      db.defer(
        `INSERT INTO challenges (challenge, bound_federation_id, bound_session_id, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
        [d.challenge, d.boundFederationId ?? null, d.boundSessionId ?? null, d.issuedAt, d.expiresAt],
      );
      return;
    }
    if (event.type !== 'ChallengeConsumed') return;
    const d = event.data as ChallengeConsumedData;
    db.defer(
      `UPDATE challenges SET consumed_at = $2, consumed_by_federation_id = $3, consumed_by_session_id = $4, consumed_by_serial = $5 WHERE challenge = $1`,
      [d.challenge, d.consumedAt, d.federationId, d.sessionId, d.serial],
    );
  },
};

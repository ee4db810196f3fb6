import type {
  ForeignIdCertInvalidatedData,
  ForeignSessionIdentifiedData,
  ForeignSessionLoggedOutData,
  IdCertInvalidatedData,
  IdCertRotatedData,
  SessionDeletedData,
  SessionLoggedOutData,
  SessionIdentifiedData,
  SessionOpenedData,
} from '@p2/contracts';
import type { Projection } from '../projection';

/** Token hash → session; UNIQUE(cert_serial) keeps one live token per ID-Cert (docs/protocol.md#session-tokens). Tokens
 * of foreign sessions (is_foreign, no cert of this server) are one per session: the session's
 * current cert is in foreign_sessions (docs/protocol.md#foreign-sessions). */
export const sessionTokensProjection: Projection = {
  name: 'session-tokens',
  tables: ['session_tokens'],
  handles: [
    'SessionOpened',
    'SessionLoggedOut',
    'SessionDeleted',
    'IdCertInvalidated',
    'IdCertRotated',
    'SessionIdentified',
    'ForeignSessionIdentified',
    'ForeignSessionLoggedOut',
    'ForeignIdCertInvalidated',
  ],
  async apply(db, event) {
    if (event.type === 'ForeignSessionIdentified') {
      const d = event.data as ForeignSessionIdentifiedData;
      db.defer(`DELETE FROM session_tokens WHERE is_foreign AND federation_id = $1 AND session_id = $2`, [d.federationId, d.sessionId]);
      db.defer(
        `INSERT INTO session_tokens (token_hash, federation_id, session_id, cert_serial, created_at, is_foreign) VALUES ($1, $2, $3, NULL, $4, true)`,
        [d.tokenHash, d.federationId, d.sessionId, d.identifiedAt],
      );
      return;
    }
    if (event.type === 'ForeignSessionLoggedOut' || event.type === 'ForeignIdCertInvalidated') {
      // an invalidation names the token only when it hit the session's current cert
      const d = event.data as ForeignSessionLoggedOutData | ForeignIdCertInvalidatedData;
      if (d.tokenHash !== undefined) db.defer(`DELETE FROM session_tokens WHERE token_hash = $1`, [d.tokenHash]);
      return;
    }
    // an invalidated cert (deleted session, rotation, compromised root) takes its token with it
    if (event.type === 'SessionLoggedOut' || event.type === 'SessionDeleted' || event.type === 'IdCertInvalidated') {
      const d = event.data as SessionLoggedOutData | SessionDeletedData | IdCertInvalidatedData;
      db.defer(`DELETE FROM session_tokens WHERE cert_serial = $1`, [d.serial]);
      return;
    }
    if (event.type === 'IdCertRotated') {
      const d = event.data as IdCertRotatedData;
      db.defer(
        `INSERT INTO session_tokens (token_hash, federation_id, session_id, cert_serial, created_at) VALUES ($1, $2, $3, $4, $5)`,
        [d.tokenHash, d.federationId, d.sessionId, d.serial, d.rotatedAt],
      );
      return;
    }
    if (event.type === 'SessionIdentified') {
      // identify (docs/protocol.md#identify) replaces the token of that cert: the previous one, if any, dies
      const d = event.data as SessionIdentifiedData;
      db.defer(`DELETE FROM session_tokens WHERE cert_serial = $1`, [d.serial]);
      db.defer(
        `INSERT INTO session_tokens (token_hash, federation_id, session_id, cert_serial, created_at) VALUES ($1, $2, $3, $4, $5)`,
        [d.tokenHash, d.federationId, d.sessionId, d.serial, d.identifiedAt],
      );
      return;
    }
    if (event.type !== 'SessionOpened') return;
    const d = event.data as SessionOpenedData;
    db.defer(
      `INSERT INTO session_tokens (token_hash, federation_id, session_id, cert_serial, created_at) VALUES ($1, $2, $3, $4, $5)`,
      [d.tokenHash, d.federationId, d.sessionId, d.serial, d.openedAt],
    );
  },
};

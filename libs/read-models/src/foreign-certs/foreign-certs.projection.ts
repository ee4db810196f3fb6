import type {
  ForeignIdCertAnnouncedData,
  ForeignIdCertCachedData,
  ForeignIdCertInvalidatedData,
  ForeignServerCertCachedData,
  ForeignSessionIdentifiedData,
} from '@p2/contracts';
import type { Projection } from '../projection';

/**
 * Other home servers' roots and their actors' certs as this server verified them, and which cert
 * each foreign session currently uses (docs/protocol.md#federation-cache). Rows mirror the
 * foreign-server and foreign-session streams; tokens of foreign sessions live in session_tokens.
 */
export const foreignCertsProjection: Projection = {
  name: 'foreign-certs',
  tables: ['foreign_server_certs', 'foreign_id_certs', 'foreign_sessions'],
  handles: ['ForeignServerCertCached', 'ForeignIdCertCached', 'ForeignIdCertInvalidated', 'ForeignSessionIdentified', 'ForeignIdCertAnnounced'],
  async apply(db, event) {
    switch (event.type) {
      case 'ForeignServerCertCached': {
        const d = event.data as ForeignServerCertCachedData;
        // As the decider folds it (docs/protocol.md#foreign-invalidation): a root that started before
        // the current one is superseded too, from the event that made both known — the event that
        // makes a root current (not one that names the current root again: in a log this server
        // wrote, nothing is left to mark then, and rows an older version left unmarked keep their
        // NULL until a rebuild rather than take the time of some later refresh), or the event that
        // records the older root itself.
        if (d.current) {
          // the root it replaces is superseded from now on: its certs are checked again before use
          db.defer(
            `UPDATE foreign_server_certs SET is_current = false, superseded_at = COALESCE(superseded_at, $3)
              WHERE domain = $1 AND is_current AND serial <> $2`,
            [d.domain, d.serial, d.fetchedAt],
          );
          db.defer(
            `UPDATE foreign_server_certs r SET superseded_at = $4
              WHERE r.domain = $1 AND r.serial <> $2 AND r.superseded_at IS NULL AND r.not_before < $3
                AND NOT EXISTS (SELECT 1 FROM foreign_server_certs c WHERE c.domain = $1 AND c.serial = $2 AND c.is_current)`,
            [d.domain, d.serial, d.notBefore, d.fetchedAt],
          );
        }
        db.defer(
          `INSERT INTO foreign_server_certs AS r (domain, serial, pem, public_key, not_before, not_after, is_current, cache_until, fetched_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (domain, serial) DO UPDATE SET is_current = r.is_current OR EXCLUDED.is_current,
             cache_until = EXCLUDED.cache_until, fetched_at = EXCLUDED.fetched_at`,
          [d.domain, d.serial, d.certPem, d.publicKey, d.notBefore, d.notAfter, d.current, d.cacheUntil, d.fetchedAt],
        );
        if (!d.current) {
          db.defer(
            `UPDATE foreign_server_certs r SET superseded_at = $3
              WHERE r.domain = $1 AND r.serial = $2 AND NOT r.is_current AND r.superseded_at IS NULL
                AND EXISTS (SELECT 1 FROM foreign_server_certs c WHERE c.domain = $1 AND c.is_current AND c.not_before > r.not_before)`,
            [d.domain, d.serial, d.fetchedAt],
          );
        }
        return;
      }
      case 'ForeignIdCertCached': {
        const d = event.data as ForeignIdCertCachedData;
        db.defer(
          `INSERT INTO foreign_id_certs AS c (federation_id, session_id, serial, issuer_domain, pem, public_key, not_before, not_after, root_serial,
             invalidated_at, cache_not_valid_before, cache_not_valid_after, cache_signature, cache_until, checked_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
           ON CONFLICT (federation_id, session_id, serial) DO UPDATE SET
             invalidated_at = COALESCE(c.invalidated_at, EXCLUDED.invalidated_at),
             cache_not_valid_before = EXCLUDED.cache_not_valid_before, cache_not_valid_after = EXCLUDED.cache_not_valid_after,
             cache_signature = EXCLUDED.cache_signature, cache_until = EXCLUDED.cache_until, checked_at = EXCLUDED.checked_at`,
          [
            d.federationId,
            d.sessionId,
            d.serial,
            d.issuerDomain,
            d.certPem,
            d.publicKey,
            d.notBefore,
            d.notAfter,
            d.rootSerial,
            d.invalidatedAt ?? null,
            d.cache?.notValidBefore ?? null,
            d.cache?.notValidAfter ?? null,
            d.cache?.signature ?? null,
            d.cacheUntil,
            d.checkedAt,
          ],
        );
        return;
      }
      case 'ForeignIdCertInvalidated': {
        const d = event.data as ForeignIdCertInvalidatedData;
        db.defer(
          `UPDATE foreign_id_certs SET invalidated_at = COALESCE(invalidated_at, $4) WHERE federation_id = $1 AND session_id = $2 AND serial = $3`,
          [d.federationId, d.sessionId, d.serial, d.invalidatedAt],
        );
        return;
      }
      case 'ForeignSessionIdentified': {
        const d = event.data as ForeignSessionIdentifiedData;
        db.defer(
          `INSERT INTO foreign_sessions (federation_id, session_id, current_serial, identified_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (federation_id, session_id) DO UPDATE SET current_serial = EXCLUDED.current_serial, identified_at = EXCLUDED.identified_at`,
          [d.federationId, d.sessionId, d.serial, d.identifiedAt],
        );
        return;
      }
      case 'ForeignIdCertAnnounced': {
        const d = event.data as ForeignIdCertAnnouncedData;
        db.defer(`UPDATE foreign_sessions SET current_serial = $3 WHERE federation_id = $1 AND session_id = $2`, [d.federationId, d.sessionId, d.serial]);
        return;
      }
      default:
        return;
    }
  },
};

import type { IdCertInvalidatedData, IdCertIssuedData, IdCertRotatedData, ServerKeyGeneratedData, ServerKeyRotatedData } from '@p2/contracts';
import type { Projection } from '../projection';

/** Every ID-Cert ever issued (history for "certs at time T"), plus the server-wide serial registry
 * whose primary key enforces unique serials (docs/protocol.md#serials) across actor and root certificates. */
export const idCertsProjection: Projection = {
  name: 'id-certs',
  tables: ['id_certs', 'issued_serials'],
  handles: ['IdCertIssued', 'IdCertRotated', 'ServerKeyGenerated', 'ServerKeyRotated', 'IdCertInvalidated'],
  async apply(db, event) {
    if (event.type === 'IdCertInvalidated') {
      const d = event.data as IdCertInvalidatedData;
      db.defer(`UPDATE id_certs SET invalidated_at = $2 WHERE serial = $1`, [d.serial, d.invalidatedAt]);
      return;
    }
    if (event.type === 'ServerKeyGenerated' || event.type === 'ServerKeyRotated') {
      const d = event.data as ServerKeyGeneratedData | ServerKeyRotatedData;
      db.defer(`INSERT INTO issued_serials (serial, kind) VALUES ($1, 'root')`, [d.serial]);
      return;
    }
    if (event.type !== 'IdCertIssued' && event.type !== 'IdCertRotated') return;
    const d = event.type === 'IdCertIssued' ? (event.data as IdCertIssuedData) : rotatedAsIssued(event.data as IdCertRotatedData);
    db.defer(`INSERT INTO issued_serials (serial, kind) VALUES ($1, 'actor')`, [d.serial]);
    db.defer(
      `INSERT INTO id_certs (serial, federation_id, session_id, pem, public_key, not_before, not_after, issued_at, root_serial)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [d.serial, d.federationId, d.sessionId, d.certPem, d.publicKey, d.notBefore, d.notAfter, d.issuedAt, d.rootSerial],
    );
  },
};

/** A rotation issues a cert just as a new session does; only the instant's name differs. */
function rotatedAsIssued(d: IdCertRotatedData): IdCertIssuedData {
  const { federationId, sessionId, serial, certPem, publicKey, notBefore, notAfter, rootSerial, rotatedAt } = d;
  return { federationId, sessionId, serial, certPem, publicKey, notBefore, notAfter, rootSerial, issuedAt: rotatedAt };
}

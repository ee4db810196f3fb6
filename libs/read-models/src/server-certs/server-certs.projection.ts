import type { ServerKeyGeneratedData, ServerKeyRotatedData } from '@p2/contracts';
import type { Projection } from '../projection';

/** History of the home server's root certificates; exactly one row is active. */
export const serverCertsProjection: Projection = {
  name: 'server-certs',
  tables: ['server_certs'],
  handles: ['ServerKeyGenerated', 'ServerKeyRotated'],
  async apply(db, event) {
    if (event.type !== 'ServerKeyGenerated' && event.type !== 'ServerKeyRotated') return;
    const d = event.data as ServerKeyGeneratedData | ServerKeyRotatedData;
    const from = 'generatedAt' in d ? d.generatedAt : d.rotatedAt;
    // the previous root stays in history, in use until now (docs/protocol.md#server-key-rotation)
    db.defer(`UPDATE server_certs SET active_until = $1 WHERE active_until IS NULL`, [from]);
    db.defer(
      `INSERT INTO server_certs (serial, pem, public_key, not_before, not_after, active_from) VALUES ($1, $2, $3, $4, $5, $6)`,
      [d.serial, d.certPem, d.publicKey, d.notBefore, d.notAfter, from],
    );
  },
};

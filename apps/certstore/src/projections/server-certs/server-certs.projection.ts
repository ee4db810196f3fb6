import type { ServerKeyGeneratedData } from '@p2/contracts';
import type { Projection } from '../projection';

/** History of the home server's root certificates; exactly one row is active. */
export const serverCertsProjection: Projection = {
  name: 'server-certs',
  tables: ['server_certs'],
  handles: ['ServerKeyGenerated'],
  async apply(manager, event) {
    if (event.type !== 'ServerKeyGenerated') return;
    const d = event.data as ServerKeyGeneratedData;
    await manager.query(`UPDATE server_certs SET active_until = $1 WHERE active_until IS NULL`, [d.generatedAt]);
    await manager.query(
      `INSERT INTO server_certs (serial, pem, public_key, not_before, not_after, active_from) VALUES ($1, $2, $3, $4, $5, $6)`,
      [d.serial, d.certPem, d.publicKey, d.notBefore, d.notAfter, d.generatedAt],
    );
  },
};

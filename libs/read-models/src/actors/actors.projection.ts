import type { ActorRegisteredData } from '@p2/contracts';
import type { Projection } from '../projection';

export const actorsProjection: Projection = {
  name: 'actors',
  tables: ['actors'],
  handles: ['ActorRegistered'],
  async apply(db, event) {
    if (event.type !== 'ActorRegistered') return;
    const d = event.data as ActorRegisteredData;
    db.defer(`INSERT INTO actors (federation_id, local_name, registered_at, registered_by_command) VALUES ($1, $2, $3, $4)`, [
      d.federationId,
      d.localName,
      d.registeredAt,
      event.metadata.messageId,
    ]);
  },
};

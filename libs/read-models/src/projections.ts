import { readByGlobalPosition, type AppendedEvent, type Sql } from '@p2/event-store';
import { actorsProjection } from './actors/actors.projection';
import { idCertsProjection } from './id-certs/id-certs.projection';
import type { SecretOpener } from './data-keys/data-keys.vault';
import type { Projection } from './projection';
import { serverCertsProjection } from './server-certs/server-certs.projection';
import { sessionTokensProjection } from './session-tokens/session-tokens.projection';
import { sessionInboxProjection } from './session-inbox/session-inbox.projection';
import { keyMaterialProjection } from './key-material/key-material.projection';
import { keyPackagesProjection } from './key-packages/key-packages.projection';
import { foreignCertsProjection } from './foreign-certs/foreign-certs.projection';

/** In dependency order: a cert row references its actor and root; a token references its cert. */
export const PROJECTIONS: readonly Projection[] = [
  serverCertsProjection,
  actorsProjection,
  idCertsProjection,
  sessionTokensProjection,
  sessionInboxProjection,
  keyMaterialProjection,
  keyPackagesProjection,
  foreignCertsProjection,
];

/** Applies events, in order, to every projection that handles them, in the caller's transaction
 * (the append's, or the rebuild's). */
export async function applyProjections(db: Sql, events: readonly AppendedEvent[], secrets: SecretOpener): Promise<void> {
  for (const event of events) {
    for (const projection of PROJECTIONS) {
      if (projection.handles.includes(event.type)) await projection.apply(db, event, secrets);
    }
  }
}

/** Empties every read model and replays the whole log through the same projections, in the
 * caller's transaction, so the tables are never seen half rebuilt. The TRUNCATE locks every read
 * model until that transaction ends: readers and the certstores' writes wait for it
 * (docs/architecture.md#rebuild). Secrets whose data key was destroyed are skipped by their
 * projections (they were deleted). */
export async function rebuildProjections(db: Sql, secrets: SecretOpener): Promise<number> {
  const tables = PROJECTIONS.flatMap((p) => p.tables);
  db.defer(`TRUNCATE ${tables.join(', ')}`);
  let replayed = 0;
  let after = '0';
  for (;;) {
    const events = await readByGlobalPosition(db, after, 1000);
    if (events.length === 0) return replayed;
    await applyProjections(db, events, secrets);
    replayed += events.length;
    after = events[events.length - 1]!.globalPosition;
  }
}

import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import {
  keyMaterialStream,
  type DeleteKeyMaterial,
  type DeleteKeyMaterialData,
  type ResultOf,
  type StoreKeyMaterial,
  type StoreKeyMaterialData,
} from '@p2/contracts';
import { keyMaterialDecider, type KeyMaterialState } from '@p2/domain';
import { APP_CONFIG } from '../config/config.tokens';
import { AggregateStore, type LoadedStream } from './aggregate.store';
import type { CommandContext } from './command-context';

/** StoreKeyMaterial / DeleteKeyMaterial on the actor's `keymaterial-<fid>` stream. The decision
 * needs to know which serials are the actor's certs: that is read from the id_certs read model in
 * the same statement as the state, and handed to the pure decider. key_data never reaches a log
 * line or an error message. */
@Injectable()
export class KeyMaterialHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly aggregates: AggregateStore,
  ) {}

  async store(data: StoreKeyMaterialData, ctx: CommandContext): Promise<ResultOf<StoreKeyMaterial>> {
    const { federationId, items } = data;
    const serials = items.map((item) => item.serial);
    const { loaded, ownSerials } = await loadKeyMaterial(ctx, federationId, serials);
    await this.aggregates.decide(
      keyMaterialDecider,
      loaded,
      {
        type: 'StoreKeyMaterial',
        federationId,
        items,
        ownSerials,
        limits: { maxBytes: this.config.keyMaterialMaxBytes, maxItems: this.config.keyMaterialMaxItems },
        at: ctx.at,
      },
      ctx,
    );
    return { type: 'KeyMaterialStored', federationId, serials };
  }

  async delete(data: DeleteKeyMaterialData, ctx: CommandContext): Promise<ResultOf<DeleteKeyMaterial>> {
    const { federationId, serials } = data;
    const { loaded } = await loadKeyMaterial(ctx, federationId, []);
    const { events } = await this.aggregates.decide(keyMaterialDecider, loaded, { type: 'DeleteKeyMaterial', federationId, serials, at: ctx.at }, ctx);
    const deleted = events.flatMap((e) => (e.type === 'KeyMaterialDeleted' ? e.data.serials : []));
    return { type: 'KeyMaterialDeleted', federationId, serials: deleted };
  }
}

/** One statement (one snapshot): the stream version, the stored serials from the key_material
 * projection (which equals the fold of the stream and does not grow with its history), and which
 * of `serials` belong to the actor's certs. */
async function loadKeyMaterial(
  ctx: CommandContext,
  federationId: string,
  serials: readonly string[],
): Promise<{ loaded: LoadedStream<KeyMaterialState>; ownSerials: ReadonlySet<string> }> {
  const streamId = keyMaterialStream(federationId);
  const [row]: { version: number; stored: string[]; own: string[] }[] = await ctx.db.query(
    `SELECT (SELECT coalesce(max(stream_position), 0) FROM events WHERE stream_id = $1)::int AS version,
            ARRAY(SELECT serial::text FROM key_material WHERE federation_id = $2) AS stored,
            ARRAY(SELECT serial::text FROM id_certs WHERE federation_id = $2 AND serial = ANY($3::numeric[])) AS own`,
    [streamId, federationId, serials],
  );
  return { loaded: { streamId, version: row!.version, state: { stored: new Set(row!.stored) } }, ownSerials: new Set(row!.own) };
}

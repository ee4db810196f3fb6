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
import { keyMaterialDecider, type KeyMaterialEvent, type KeyMaterialState } from '@p2/domain';
import { APP_CONFIG } from '@p2/platform';
import { DataKeyVault, keyMaterialFacts } from '@p2/read-models';
import { AggregateStore, type LoadedStream } from './aggregate.store';
import type { CommandContext } from './command-context';

/** StoreKeyMaterial / DeleteKeyMaterial on the actor's `keymaterial-<fid>` stream. The decision
 * needs to know which serials are the actor's certs: that is read from the id_certs read model in
 * the same statement as the state, and handed to the pure decider. key_data never reaches a log
 * line or an error message, and reaches the event log only sealed under a data key of its item,
 * which a deletion destroys in its own transaction (docs/architecture.md#crypto-shredding). */
@Injectable()
export class KeyMaterialHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly aggregates: AggregateStore,
    private readonly dataKeys: DataKeyVault,
  ) {}

  async store(data: StoreKeyMaterialData, ctx: CommandContext): Promise<ResultOf<StoreKeyMaterial>> {
    const { federationId, items } = data;
    const serials = items.map((item) => item.serial);
    const { loaded, ownSerials } = await this.load(ctx, federationId, serials);
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
      (events) => events.map((event) => this.sealed(event, ctx)),
    );
    return { type: 'KeyMaterialStored', federationId, serials };
  }

  async delete(data: DeleteKeyMaterialData, ctx: CommandContext): Promise<ResultOf<DeleteKeyMaterial>> {
    const { federationId, serials } = data;
    const { loaded } = await this.load(ctx, federationId, []);
    const { events } = await this.aggregates.decide(keyMaterialDecider, loaded, { type: 'DeleteKeyMaterial', federationId, serials, at: ctx.at }, ctx);
    const deleted = events.flatMap((e) => (e.type === 'KeyMaterialDeleted' ? e.data.serials : []));
    this.dataKeys.destroy(ctx.db, federationId, deleted);
    return { type: 'KeyMaterialDeleted', federationId, serials: deleted };
  }

  /** The stream as the decider sees it, from the key_material read model (docs/architecture.md#read-models),
   * and which of `serials` are the actor's certificates, read in one snapshot. The stored serials
   * come from this certstore's last decision on the stream when the stream has not moved since. */
  private async load(
    ctx: CommandContext,
    federationId: string,
    serials: readonly string[],
  ): Promise<{ loaded: LoadedStream<KeyMaterialState>; ownSerials: ReadonlySet<string> }> {
    const streamId = keyMaterialStream(federationId);
    const known = this.aggregates.known<KeyMaterialState>(streamId, ctx);
    const facts = await keyMaterialFacts(ctx.db, streamId, federationId, serials, known?.version);
    const state = facts.stored === undefined ? known!.state : { stored: facts.stored };
    return { loaded: { streamId, version: facts.version, state }, ownSerials: facts.ownSerials };
  }

  /** The event as it goes into the log: key_data replaced by its ciphertext under a new data key. */
  private sealed(event: KeyMaterialEvent, ctx: CommandContext): KeyMaterialEvent & { schemaVersion?: number } {
    if (event.type !== 'KeyMaterialStored' || event.data.keyData === undefined) return event;
    const { keyData, ...rest } = event.data;
    const sealedKeyData = this.dataKeys.seal(ctx.db, { federationId: rest.federationId, serial: rest.serial }, keyData);
    return { type: 'KeyMaterialStored', schemaVersion: 2, data: { ...rest, sealedKeyData } };
  }
}

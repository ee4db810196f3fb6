import { Inject, Injectable } from '@nestjs/common';
import type { AppConfig } from '@p2/config';
import { keyMaterialStream, type CommandResult, type KeyMaterialItem } from '@p2/contracts';
import { fold, keyMaterialDecider, type KeyMaterialCommand, type KeyMaterialEvent } from '@p2/domain';
import { PostgresEventStore } from '@p2/event-store';
import { parseDottedOid, parseFederationId } from '@p2/polyproto';
import { APP_CONFIG } from '../config/config.tokens';
import { applyProjections } from '../projections/projections';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';

/** A serial as commands carry it: positive decimal, at most 20 DER octets (< 2^160, 49 digits). */
const SERIAL_RE = /^[1-9]\d{0,48}$/;

/** StoreKeyMaterial / DeleteKeyMaterial on the actor's `keymaterial-<fid>` stream. The decision
 * needs to know which serials are the actor's certs: that is read here, from the id_certs read
 * model in the same transaction, and handed to the pure decider. key_data never reaches a log line
 * or an error message. */
@Injectable()
export class KeyMaterialHandler {
  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly eventStore: PostgresEventStore,
  ) {}

  async store(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const items = requireItems(data);
    const serials = items.map((item) => item.serial);
    const own: { serial: string }[] = await ctx.manager.query(
      `SELECT serial::text AS serial FROM id_certs WHERE federation_id = $1 AND serial = ANY($2::numeric[])`,
      [federationId, serials],
    );
    await this.decideAndAppend(ctx, federationId, {
      type: 'StoreKeyMaterial',
      federationId,
      items,
      ownSerials: new Set(own.map((r) => r.serial)),
      limits: { maxBytes: this.config.keyMaterialMaxBytes, maxItems: this.config.keyMaterialMaxItems },
      at: ctx.at,
    });
    return { type: 'KeyMaterialStored', federationId, serials };
  }

  async delete(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const serials = requireSerials((data as { serials?: unknown }).serials, 'serials');
    const events = await this.decideAndAppend(ctx, federationId, { type: 'DeleteKeyMaterial', federationId, serials, at: ctx.at });
    const deleted = events.flatMap((e) => (e.type === 'KeyMaterialDeleted' ? e.data.serials : []));
    return { type: 'KeyMaterialDeleted', federationId, serials: deleted };
  }

  private async decideAndAppend(ctx: CommandContext, federationId: string, command: KeyMaterialCommand): Promise<readonly KeyMaterialEvent[]> {
    const streamId = keyMaterialStream(federationId);
    const { version, events } = await this.eventStore.readStream(streamId, ctx.manager);
    const decided = keyMaterialDecider.decide(command, fold(keyMaterialDecider, events as unknown as KeyMaterialEvent[]));
    const stored = await this.eventStore.append(ctx.manager, streamId, version, decided, ctx.metadata);
    await applyProjections(ctx.manager, stored);
    return decided;
  }
}

function requireSerials(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.length === 0) throw new MalformedCommandError(`command field ${field} must be a non-empty array`);
  return value.map((serial, i) => {
    if (typeof serial !== 'string' || !SERIAL_RE.test(serial)) throw new MalformedCommandError(`command field ${field}[${i}] must be a positive decimal serial`);
    return serial;
  });
}

function requireItems(data: unknown): KeyMaterialItem[] {
  const items = (data as { items?: unknown } | null)?.items;
  if (!Array.isArray(items) || items.length === 0) throw new MalformedCommandError('command field items must be a non-empty array');
  return items.map((raw: unknown, i) => {
    const field = `items[${i}]`;
    if (typeof raw !== 'object' || raw === null) throw new MalformedCommandError(`command field ${field} must be an object`);
    const item = raw as Record<string, unknown>;
    const [serial] = requireSerials([item.serial], `${field}.serial`);
    const keyData = requireString(item, 'keyData');
    const algorithms = item.encryptionAlgorithms;
    if (!Array.isArray(algorithms)) throw new MalformedCommandError(`command field ${field}.encryptionAlgorithms must be an array`);
    return {
      serial: serial!,
      keyData,
      encryptionAlgorithms: algorithms.map((oid, j) => parseDottedOid(oid, `${field}.encryptionAlgorithms[${j}]`)),
      ...(item.rawEncryptionAlgorithms === undefined ? {} : { rawEncryptionAlgorithms: item.rawEncryptionAlgorithms }),
    };
  });
}

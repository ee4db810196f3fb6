import { ERROR_CODE, type DomainEvent, type KeyMaterialItem } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError } from '../domain-error';

/** The actor's encrypted private key material (docs/protocol.md#key-material), stream `keymaterial-<fid>`. */
export type KeyMaterialEvent = Extract<DomainEvent, { type: 'KeyMaterialStored' | 'KeyMaterialDeleted' }>;

export interface KeyMaterialState {
  /** decimal serials that have key material stored */
  readonly stored: ReadonlySet<string>;
}

/** Limits the server applies (configuration, passed in by the handler). */
export interface KeyMaterialLimits {
  /** largest `keyData`, in UTF-8 bytes of the PEM text (P2_KEYMATERIAL_MAX_BYTES) */
  readonly maxBytes: number;
  /** most items one actor may have stored at once (P2_KEYMATERIAL_MAX_ITEMS, docs/protocol.md#key-material-slots) */
  readonly maxItems: number;
}

export type KeyMaterialCommand =
  | {
      readonly type: 'StoreKeyMaterial';
      readonly federationId: string;
      readonly items: readonly KeyMaterialItem[];
      /** Those of the items' serials that belong to ID-Certs this actor has ever had; the handler
       * reads them from the id_certs read model so that the decision itself stays pure. */
      readonly ownSerials: ReadonlySet<string>;
      readonly limits: KeyMaterialLimits;
      readonly at: Date;
    }
  | { readonly type: 'DeleteKeyMaterial'; readonly federationId: string; readonly serials: readonly string[]; readonly at: Date };

export const keyMaterialErrors = {
  tooLarge: (serial: string, bytes: number, max: number) =>
    new DomainError(ERROR_CODE.payloadTooLarge, `The key_data for serial ${serial} is ${bytes} bytes (UTF-8); this server takes at most ${max}.`),
  unknownSerial: (serial: string) =>
    new DomainError(ERROR_CODE.unknownSerial, `The serial ${serial} is not the serial of an ID-Cert of this actor.`),
  exists: (serial: string) =>
    new DomainError(ERROR_CODE.keyMaterialExists, `Key material for serial ${serial} is already stored; delete it first to replace it.`),
  slotsFull: (stored: number, adding: number, max: number) =>
    new DomainError(
      ERROR_CODE.keyMaterialSlotsFull,
      `This actor has ${stored} key material items stored and may store at most ${max}; ${adding} more do not fit. Delete some first.`,
    ),
  nothingToDelete: (serials: readonly string[]) =>
    new DomainError(
      ERROR_CODE.keyMaterialNotFound,
      `No key material is stored for any of the serials ${serials.slice(0, 10).join(', ')}${serials.length > 10 ? ', …' : ''}.`,
    ),
};

const initialState = (): KeyMaterialState => ({ stored: new Set() });

function evolve(state: KeyMaterialState, event: KeyMaterialEvent): KeyMaterialState {
  switch (event.type) {
    case 'KeyMaterialStored':
      return { stored: new Set(state.stored).add(event.data.serial) };
    case 'KeyMaterialDeleted': {
      const stored = new Set(state.stored);
      for (const serial of event.data.serials) stored.delete(serial);
      return { stored };
    }
    default:
      return assertNever(event);
  }
}

const utf8 = new TextEncoder();

/** Checks every item before deciding anything, so a request is stored all or nothing. Per item, in
 * request order: size (413), ownership (404), duplicate (409); then the slot count (409). */
function decide(command: KeyMaterialCommand, state: KeyMaterialState): readonly KeyMaterialEvent[] {
  switch (command.type) {
    case 'StoreKeyMaterial': {
      const { items, limits } = command;
      const adding = new Set<string>();
      for (const item of items) {
        const bytes = utf8.encode(item.keyData).byteLength;
        if (bytes > limits.maxBytes) throw keyMaterialErrors.tooLarge(item.serial, bytes, limits.maxBytes);
        if (!command.ownSerials.has(item.serial)) throw keyMaterialErrors.unknownSerial(item.serial);
        if (state.stored.has(item.serial) || adding.has(item.serial)) throw keyMaterialErrors.exists(item.serial);
        adding.add(item.serial);
      }
      if (state.stored.size + items.length > limits.maxItems) throw keyMaterialErrors.slotsFull(state.stored.size, items.length, limits.maxItems);
      const storedAt = command.at.toISOString();
      return items.map((item) => ({
        type: 'KeyMaterialStored',
        data: {
          federationId: command.federationId,
          serial: item.serial,
          keyData: item.keyData,
          encryptionAlgorithms: [...item.encryptionAlgorithms],
          ...(item.rawEncryptionAlgorithms === undefined ? {} : { rawEncryptionAlgorithms: item.rawEncryptionAlgorithms }),
          storedAt,
        },
      }));
    }
    case 'DeleteKeyMaterial': {
      const matched = [...new Set(command.serials)].filter((serial) => state.stored.has(serial));
      if (matched.length === 0) throw keyMaterialErrors.nothingToDelete(command.serials);
      return [{ type: 'KeyMaterialDeleted', data: { federationId: command.federationId, serials: matched, deletedAt: command.at.toISOString() } }];
    }
    default:
      return assertNever(command);
  }
}

export const keyMaterialDecider: Decider<KeyMaterialState, KeyMaterialCommand, KeyMaterialEvent> = { initialState, evolve, decide };

import type { KeyMaterialItem } from '@p2/contracts';
import { spec } from '@p2/testing';
import { DomainError, keyMaterialDecider, type KeyMaterialCommand, type KeyMaterialEvent, type KeyMaterialLimits } from '../src';

const fid = 'alice@example.com';
const at = new Date('2026-01-01T00:00:00Z');
const limits: KeyMaterialLimits = { maxBytes: 64, maxItems: 3 };
const item = (serial: string, keyData = `PEM-${serial}`, encryptionAlgorithms: string[] = []): KeyMaterialItem => ({ serial, keyData, encryptionAlgorithms });
const store = (items: KeyMaterialItem[], ownSerials: string[] = ['1', '2', '3', '4', '5'], overrides: Partial<KeyMaterialLimits> = {}): KeyMaterialCommand => ({
  type: 'StoreKeyMaterial',
  federationId: fid,
  items,
  ownSerials: new Set(ownSerials),
  limits: { ...limits, ...overrides },
  at,
});
const stored = (serial: string, keyData = `PEM-${serial}`, encryptionAlgorithms: string[] = []): KeyMaterialEvent => ({
  type: 'KeyMaterialStored',
  data: { federationId: fid, serial, keyData, encryptionAlgorithms, storedAt: at.toISOString() },
});
const deleted = (...serials: string[]): KeyMaterialEvent => ({ type: 'KeyMaterialDeleted', data: { federationId: fid, serials, deletedAt: at.toISOString() } });
const remove = (...serials: string[]): KeyMaterialCommand => ({ type: 'DeleteKeyMaterial', federationId: fid, serials, at });
const codeOf = (code: string, messagePart?: string) => (error: unknown) => {
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
  if (messagePart) expect((error as DomainError).message).toContain(messagePart);
};

describe('key material decider', () => {
  it('stores every item of a request, one event each, in request order', () => {
    spec(keyMaterialDecider)
      .given([])
      .when(store([item('2', 'K2', ['1.2.840.113549.1.5.13']), item('1')]))
      .then([stored('2', 'K2', ['1.2.840.113549.1.5.13']), stored('1')]);
  });

  it('keeps the raw form of the algorithms when the client sent one', () => {
    const raw = [[48, 5, 6, 3, 43, 101, 112]];
    spec(keyMaterialDecider)
      .given([])
      .when(store([{ ...item('1', 'K', ['1.3.101.112']), rawEncryptionAlgorithms: raw }]))
      .then([{ type: 'KeyMaterialStored', data: { federationId: fid, serial: '1', keyData: 'K', encryptionAlgorithms: ['1.3.101.112'], rawEncryptionAlgorithms: raw, storedAt: at.toISOString() } }]);
  });

  it('refuses a serial that is not one of the actor\'s ID-Certs (404), storing nothing of the request', () => {
    spec(keyMaterialDecider).given([]).when(store([item('1'), item('9')])).thenThrows(codeOf('P2CORE_UNKNOWN_SERIAL', '9'));
  });

  it('refuses a serial that already has key material (409), also within one request', () => {
    spec(keyMaterialDecider).given([stored('1')]).when(store([item('2'), item('1')])).thenThrows(codeOf('P2CORE_KEY_MATERIAL_EXISTS', 'serial 1'));
    spec(keyMaterialDecider).given([]).when(store([item('2'), item('2', 'other')])).thenThrows(codeOf('P2CORE_KEY_MATERIAL_EXISTS', 'serial 2'));
  });

  it('measures key_data in UTF-8 bytes against the limit (413)', () => {
    const atLimit = 'é'.repeat(32); // 32 characters, 64 bytes
    spec(keyMaterialDecider).given([]).when(store([item('1', atLimit)])).then([stored('1', atLimit)]);
    spec(keyMaterialDecider)
      .given([])
      .when(store([item('1'), item('2', `${atLimit}x`)]))
      .thenThrows(codeOf('P2CORE_PAYLOAD_TOO_LARGE', '65 bytes'));
  });

  it('caps the number of stored items (409 slots full), counting what is already stored', () => {
    spec(keyMaterialDecider).given([stored('1'), stored('2')]).when(store([item('3')])).then([stored('3')]);
    spec(keyMaterialDecider)
      .given([stored('1'), stored('2')])
      .when(store([item('3'), item('4')]))
      .thenThrows(codeOf('P2CORE_KEY_MATERIAL_SLOTS_FULL', 'at most 3'));
    spec(keyMaterialDecider).given([]).when(store([item('1'), item('2')], undefined, { maxItems: 1 })).thenThrows(codeOf('P2CORE_KEY_MATERIAL_SLOTS_FULL'));
  });

  it('frees a slot and the serial once the item is deleted', () => {
    spec(keyMaterialDecider).given([stored('1'), stored('2'), stored('3'), deleted('1')]).when(store([item('1', 'again')])).then([stored('1', 'again')]);
  });

  it('deletes the requested serials that have key material, ignoring the others', () => {
    spec(keyMaterialDecider).given([stored('1'), stored('2')]).when(remove('2', '7', '2')).then([deleted('2')]);
    spec(keyMaterialDecider).given([stored('1'), stored('2')]).when(remove('1', '2')).then([deleted('1', '2')]);
  });

  it('refuses a deletion that matches nothing (404)', () => {
    spec(keyMaterialDecider).given([stored('1'), deleted('1')]).when(remove('1', '5')).thenThrows(codeOf('P2CORE_KEY_MATERIAL_NOT_FOUND', '1, 5'));
    spec(keyMaterialDecider).given([]).when(remove('1')).thenThrows(codeOf('P2CORE_KEY_MATERIAL_NOT_FOUND'));
  });

  it('replays a deletion of serials it never saw without throwing', () => {
    const state = [deleted('8'), stored('1')].reduce(keyMaterialDecider.evolve, keyMaterialDecider.initialState());
    expect([...state.stored]).toEqual(['1']);
  });
});

import * as classTransformer from 'class-transformer';
import {
  AddKeyPackagesData,
  decodeCommandData,
  InvalidCommandError,
  KeyMaterialItem,
  KeyPackageData,
  plainCommandData,
  ReplaceLastResortKeyPackageData,
  StoreKeyMaterialData,
  type CommandType,
} from '../src';

/** The full path alone: what the certstore answered before the plain checks. */
function full(type: CommandType, data: unknown): { accepted: unknown } | { refused: string } {
  try {
    return { accepted: decodeCommandData(type, data, { plainChecks: false }) };
  } catch (error) {
    if (error instanceof InvalidCommandError) return { refused: error.message };
    throw error;
  }
}

function decoded(type: CommandType, data: unknown): { accepted: unknown } | { refused: string } {
  try {
    return { accepted: decodeCommandData(type, data) };
  } catch (error) {
    if (error instanceof InvalidCommandError) return { refused: error.message };
    throw error;
  }
}

/** A field left out, rather than set to undefined. */
const ABSENT = Symbol('absent');

/** `base` with `key` set as an own field, whatever the key (`__proto__` included, as JSON.parse makes it). */
function withField(base: object, key: string, value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...base };
  if (value === ABSENT) delete copy[key];
  else Object.defineProperty(copy, key, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

type Case = readonly [name: string, data: unknown];

/** Each field of `base` set in turn to each of its values; every field also gets the values that
 * are wrong for any field (absent, undefined, null, the wrong JSON types, the value in an array). */
function fieldCases(prefix: string, base: Record<string, unknown>, values: Record<string, readonly unknown[]>): Case[] {
  return Object.keys(base).flatMap((key) =>
    [ABSENT, undefined, null, 7, 1.5, true, 'text', '', [], {}, [base[key]], { value: base[key] }, ...(values[key] ?? [])].map(
      (value): Case => [`${prefix}${key} = ${shown(value)}`, withField(base, key, value)],
    ),
  );
}

/** Keys no class names, and keys the full path drops (it would accept them, dropped, or refuse them). */
function extraKeyCases(prefix: string, base: Record<string, unknown>): Case[] {
  return ['extra', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'].flatMap((key) =>
    [1, { polluted: true }].map((value): Case => [`${prefix}extra key ${key} = ${shown(value)}`, withField(base, key, value)]),
  );
}

function shown(value: unknown): string {
  if (value === ABSENT) return 'absent';
  if (value === undefined) return 'undefined';
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  if (value instanceof Date) return 'a Date';
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === null) return `an object of no prototype ${JSON.stringify(value)}`;
  if (Array.isArray(value) && Object.keys(value).length !== value.length) return `sparse ${JSON.stringify(value)}`;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 40)}… (${text.length} chars)` : text;
}

const nested = (depth: number): unknown => JSON.parse('['.repeat(depth) + ']'.repeat(depth));
const veryDeep = (): unknown => {
  let deep: unknown = 1;
  for (let i = 0; i < 20000; i++) deep = [deep];
  return deep;
};
const sparse = (...items: unknown[]): unknown[] => {
  const list: unknown[] = [];
  list[1] = items[0];
  for (const item of items.slice(1)) list.push(item);
  return list;
};
const json = (text: string): unknown => JSON.parse(text);
const ofNoPrototype = (fields: object): unknown => Object.assign(Object.create(null) as object, fields);

const federationIds = ['bob@example.com', 'Alice@example.com', 'alice', 'alice@', '@example.com', ' alice@example.com', 'alice@example.com\u0000'];
const sessionIds = ['x'.repeat(32), 'x'.repeat(33), 'tab\there', 'caf\u00e9', ' '];
const serials = ['1', '0', '01', '-1', '1.5', '1e3', 1, (2n ** 159n - 1n).toString(), (2n ** 159n).toString()];

/** Any-JSON fields (IsStorableJson): what class-transformer copies, drops or turns into something else. */
const jsonValues = [
  [],
  { a: [1, 'b', { c: true, d: null }] },
  0,
  'a\u0000b',
  '\ud800',
  'x'.repeat(20000),
  nested(32),
  nested(33),
  nested(40),
  { constructor: 'x' },
  { toString: 1, a: 2 },
  [{ valueOf: 1 }],
  [{ prototype: 1 }],
  json('{"a": {"__proto__": {"polluted": true}}}'),
  json('{"__proto__": 1}'),
  sparse(1, 2),
  Infinity,
  new Date(0),
  ofNoPrototype({ a: 1 }),
];

const keyPackage = { protocolVersion: 'mls10', cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', initKey: 'q83vASNFZ4k=', leafNode: 'AAEAAgADAAQ=', extensions: null };
const keyPackageCases = (prefix: string): Case[] => [
  ...fieldCases(prefix, keyPackage, {
    protocolVersion: ['x'.repeat(64), 'x'.repeat(65), 'tab\there', 'caf\u00e9'],
    cipherSuite: ['1', 'x'.repeat(64), 'x'.repeat(65), 'new\nline'],
    initKey: ['q83vASNFZ4k', 'q83v-_NFZ4k=', 'q83v+/NFZ4k=', 'A'.repeat(2048), 'A'.repeat(2052), 'q83vASNFZ4k==', '====', 'AA=='],
    leafNode: ['AA', 'AA==', 'q83v-_NFZ4k', 'A'.repeat(16384), 'A'.repeat(16388), '%%', '===='],
    extensions: jsonValues,
  }),
  ...extraKeyCases(prefix, keyPackage),
];

const ack = { federationId: 'alice@example.com', sessionId: 'laptop', upTo: 3 };
const ackCases: Case[] = [
  ['usual', ack],
  ['an object of no prototype', ofNoPrototype(ack)],
  ...fieldCases('', ack, {
    federationId: federationIds,
    sessionId: sessionIds,
    upTo: [1, 0, -1, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 60, '3', NaN, Infinity, 3.0000001],
  }),
  ...extraKeyCases('', ack),
];

/** A command with a list of nested objects: its usual form, each field wrong in turn, extra keys,
 * and each case of an element at the list's first place and at its second. */
function listCommandCases(base: Record<string, unknown>, values: Record<string, readonly unknown[]>, field: string, elementCases: (prefix: string) => Case[]): Case[] {
  const [first] = base[field] as unknown[];
  return [
    ['usual', base],
    ...fieldCases('', base, values),
    ...extraKeyCases('', base),
    ...elementCases(`${field}[0].`).map(([name, element]): Case => [name, { ...base, [field]: [element] }]),
    ...elementCases(`${field}[1].`).map(([name, element]): Case => [name, { ...base, [field]: [first, element] }]),
  ];
}

const upload = { federationId: 'alice@example.com', sessionId: 'laptop', serial: '4019383941', keyPackages: [keyPackage, { ...keyPackage, initKey: 'AAAA', extensions: [] }] };
const uploadCases: Case[] = [
  ...listCommandCases(
    upload,
    {
      federationId: federationIds,
      sessionId: sessionIds,
      serial: serials,
      keyPackages: [[keyPackage], [keyPackage, null], [[keyPackage]], keyPackage, sparse(keyPackage, keyPackage), Array.from({ length: 100 }, () => keyPackage)],
    },
    'keyPackages',
    keyPackageCases,
  ),
  ['keyPackages[0].extensions = 20000 levels deep', { ...upload, keyPackages: [{ ...keyPackage, extensions: veryDeep() }] }],
];

const lastResort = { federationId: 'alice@example.com', sessionId: 'laptop', serial: '4019383941', keyPackage };
const lastResortCases: Case[] = [
  ['usual', lastResort],
  ...fieldCases('', lastResort, { federationId: federationIds, sessionId: sessionIds, serial: serials, keyPackage: [[keyPackage, keyPackage], [[keyPackage]]] }),
  ...extraKeyCases('', lastResort),
  ...keyPackageCases('keyPackage.').map(([name, item]): Case => [name, { ...lastResort, keyPackage: item }]),
];

const item = { serial: '4019383941', keyData: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----', encryptionAlgorithms: ['1.2.840.113549.1.5.13'] };
const withRaw = { ...item, rawEncryptionAlgorithms: [[48, 11, 6, 9, 42, 134, 72, 134, 247, 13, 1, 5, 13]] };
const itemCases = (prefix: string): Case[] => [
  ...[item, withRaw].flatMap((base, i) =>
    fieldCases(`${prefix}${i === 0 ? '' : '(with raw) '}`, base, {
      serial: serials,
      keyData: ['x', ' ', 'a\u0000b', '\udc00', 'x'.repeat(100000)],
      encryptionAlgorithms: [[], ['1.2.3', '2.999.1'], ['1.40.1'], ['1.02.3'], ['1.2.3', 7], '1.2.3', [['1.2.3']], sparse('1.2.3', '1.2.4')],
      rawEncryptionAlgorithms: [undefined, null, ['1.2.3'], 'text', ...jsonValues],
    }),
  ),
  ...extraKeyCases(prefix, item),
];

const store = { federationId: 'alice@example.com', items: [item, withRaw] };
const storeCases: Case[] = [
  ...listCommandCases(
    store,
    { federationId: federationIds, items: [[item], [item, null], [[item]], item, sparse(item, withRaw), Array.from({ length: 50 }, () => item)] },
    'items',
    itemCases,
  ),
  ['items[0].rawEncryptionAlgorithms = 20000 levels deep', { ...store, items: [{ ...item, rawEncryptionAlgorithms: veryDeep() }] }],
];

/**
 * Valid data the plain checks turn down on purpose (the full path answers it): a key the full path
 * drops instead of refusing, a sparse array it closes, a Date it copies (opaque JSON, whatever its
 * keys, is taken as it is by both). Any other valid case must be answered by the plain check itself.
 */
const TURNED_DOWN = [
  /extra key (__proto__|constructor|toString|hasOwnProperty|valueOf) = /,
  /(extensions|rawEncryptionAlgorithms) = (sparse|a Date|an object of no prototype)/,
  /^an object of no prototype$/,
  /^(keyPackages|items) = sparse/,
  /encryptionAlgorithms = sparse/,
];

describe.each<[CommandType, readonly Case[], number]>([
  ['AcknowledgeInbox', ackCases, 4],
  ['AddKeyPackages', uploadCases, 40],
  ['ReplaceLastResortKeyPackage', lastResortCases, 20],
  ['StoreKeyMaterial', storeCases, 40],
])('the plain check of %s', (type, cases, fewestAccepted) => {
  it('accepts only what the full path accepts, as the very instance it returns; the valid usual forms all', () => {
    let accepted = 0;
    for (const [name, data] of cases) {
      const plain = plainCommandData(type, data);
      const expected = full(type, data);
      // toStrictEqual: the same class at every level, and the same fields (undefined ones too)
      if (plain !== undefined) expect({ name, outcome: expected }).toStrictEqual({ name, outcome: { accepted: plain } });
      if ('accepted' in expected && plain === undefined) expect({ name, turnedDown: TURNED_DOWN.some((pattern) => pattern.test(name)) }).toEqual({ name, turnedDown: true });
      if ('refused' in expected || plain === undefined) expect({ name, outcome: decoded(type, data) }).toStrictEqual({ name, outcome: expected });
      if (plain !== undefined) accepted++;
    }
    expect(accepted).toBeGreaterThanOrEqual(fewestAccepted);
  });
});

describe('the plain checks in decodeCommandData', () => {
  it('build the nested classes too', () => {
    const added = decodeCommandData('AddKeyPackages', upload);
    expect(added).toBeInstanceOf(AddKeyPackagesData);
    expect(added.keyPackages.map((p) => Object.getPrototypeOf(p))).toEqual([KeyPackageData.prototype, KeyPackageData.prototype]);
    expect(Object.getPrototypeOf(decodeCommandData('ReplaceLastResortKeyPackage', lastResort))).toBe(ReplaceLastResortKeyPackageData.prototype);
    expect(decodeCommandData('ReplaceLastResortKeyPackage', lastResort).keyPackage).toBeInstanceOf(KeyPackageData);
    const stored = decodeCommandData('StoreKeyMaterial', store);
    expect(stored).toBeInstanceOf(StoreKeyMaterialData);
    expect(stored.items.every((i) => Object.getPrototypeOf(i) === KeyMaterialItem.prototype)).toBe(true);
    // the optional field the item did not carry is there, undefined, as class-transformer leaves it
    expect(Object.keys(stored.items[0]!)).toContain('rawEncryptionAlgorithms');
  });

  it('answer the usual commands without class-transformer, and leave the rest to it', () => {
    const transform = jest.spyOn(classTransformer, 'plainToInstance');
    try {
      decodeCommandData('AcknowledgeInbox', ack);
      decodeCommandData('AddKeyPackages', upload);
      decodeCommandData('ReplaceLastResortKeyPackage', lastResort);
      decodeCommandData('StoreKeyMaterial', store);
      expect(transform).not.toHaveBeenCalled();
      expect(() => decodeCommandData('AcknowledgeInbox', { ...ack, upTo: 0 })).toThrow(/upTo/);
      decodeCommandData('DeleteSession', { federationId: 'alice@example.com', sessionId: 'laptop' });
      expect(transform).toHaveBeenCalledTimes(2);
    } finally {
      transform.mockRestore();
    }
  });
});

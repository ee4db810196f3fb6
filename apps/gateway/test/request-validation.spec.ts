import { ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { ApiError } from '../src/http/api-error';
import { bodyItemMessage, requestValidationPipe } from '../src/http/request-validation';
import { completedChallengeOf, IdentifyRequestDto } from '../src/identify/identify.request.dto';
import { KeyMaterialItemDto, KeyMaterialUploadDto, SerialSelectionDto } from '../src/keymaterial/key-material.request.dto';
import { KeyPackagesUploadDto, LastResortUploadDto } from '../src/keypackages/key-packages.request.dto';

/** The global pipe on its own: what a client reads when one field of its request is malformed. */
const pipe = requestValidationPipe();
const body = (metatype: ArgumentMetadata['metatype']): ArgumentMetadata => ({ type: 'body', metatype });

async function refusal(value: unknown, metadata: ArgumentMetadata): Promise<{ status: number; code: string; message: string }> {
  try {
    await pipe.transform(value, metadata);
  } catch (error) {
    if (error instanceof ApiError) return { status: error.status, code: error.code, message: error.message };
    throw error;
  }
  throw new Error('the request was accepted');
}

const keyPackage = { protocol_version: 'mls10', cipher_suite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519', init_key: 'q83vASNFZ4k=', leaf_node: 'AAEAAgADAAQ=' };

describe('request validation: the answer names the field as the client sent it', () => {
  it('names an element of a whole-body array by its index, not by the field the route put the body under', async () => {
    expect(await refusal({ body: [{ key_data: 'PEM', serial_number: '5' }, { key_data: 'PEM' }] }, body(KeyMaterialUploadDto))).toEqual({
      status: 400,
      code: 'P2CORE_MALFORMED_REQUEST',
      message: 'The field "[1].serial_number" (also sent as "serialNumber") must be a serial number (a decimal string, a JSON number or a big-endian byte array).',
    });
    expect((await refusal({ key_packages: [keyPackage, { ...keyPackage, init_key: '%%' }] }, body(KeyPackagesUploadDto))).message).toMatch(/^The field "\[1\]\.init_key" /);
    expect((await refusal({ key_packages: ['a'] }, body(KeyPackagesUploadDto))).message).toBe('The field "[0]" must be an object.');
  });

  it('refuses a list inside the whole-body list, which ValidateNested alone would read as more elements', async () => {
    expect(await refusal({ key_packages: [keyPackage, [keyPackage, keyPackage]] }, body(KeyPackagesUploadDto))).toEqual({
      status: 400,
      code: 'P2CORE_MALFORMED_REQUEST',
      message: 'The request body must be a list of objects, not of lists: [1] is a list.',
    });
    expect((await refusal({ key_packages: [[keyPackage]] }, body(KeyPackagesUploadDto))).message).toBe('The request body must be a list of objects, not of lists: [0] is a list.');
    expect((await refusal({ body: [[{ key_data: 'PEM', serial_number: '5' }]] }, body(KeyMaterialUploadDto))).message).toBe(
      'The request body must be a list of objects, not of lists: [0] is a list.',
    );
  });

  it('reads both whole-body lists alike: one item is a list of one, and the same shapes get the same refusal', async () => {
    const item = { key_data: 'PEM', serial_number: '5' };
    expect(((await pipe.transform({ key_packages: keyPackage }, body(KeyPackagesUploadDto))) as KeyPackagesUploadDto).key_packages).toHaveLength(1);
    expect(((await pipe.transform({ body: item }, body(KeyMaterialUploadDto))) as KeyMaterialUploadDto).body).toHaveLength(1);
    for (const shape of [[], 'x', 5, true]) {
      const packages = await refusal({ key_packages: shape }, body(KeyPackagesUploadDto));
      expect(packages).toEqual(expect.objectContaining({ status: 400, code: 'P2CORE_MALFORMED_REQUEST' }));
      expect(packages.message).toMatch(/^The request body /);
      expect(await refusal({ body: shape }, body(KeyMaterialUploadDto))).toEqual(packages);
    }
  });

  it('names a field of a whole-body list sent as one object without an index the client never sent', async () => {
    expect((await refusal({ body: { key_data: 'PEM', serialNumber: 1.5 } }, body(KeyMaterialUploadDto))).message).toBe(
      'The field "serial_number" (also sent as "serialNumber") must be a whole number.',
    );
    expect((await refusal({ key_packages: { ...keyPackage, init_key: '%%' } }, body(KeyPackagesUploadDto))).message).toMatch(/^The field "init_key" /);
    // the 413 of an oversized key_data names it the same way, its other name too (bodyItemMessage)
    const tooLarge = (dto: unknown, index: number) => bodyItemMessage((dto as KeyMaterialUploadDto).body, index, 'key_data', 'is too large');
    const one = await pipe.transform({ body: { keyData: 'PEM', serialNumber: 5 } }, body(KeyMaterialUploadDto));
    const list = await pipe.transform({ body: [{ key_data: 'PEM', serial_number: '5' }, { key_data: 'PEM', serial_number: '6' }] }, body(KeyMaterialUploadDto));
    expect([tooLarge(one, 0), tooLarge(list, 1)]).toEqual(['The field "key_data" (also sent as "keyData") is too large.', 'The field "[1].key_data" (also sent as "keyData") is too large.']);
    // the full pipe (no plain checks) reads the shapes alike
    const full = requestValidationPipe({ plainChecks: false });
    expect(tooLarge(await full.transform({ body: { key_data: 'PEM', serial_number: '5' } }, body(KeyMaterialUploadDto)), 0)).toBe('The field "key_data" (also sent as "keyData") is too large.');
    expect(tooLarge(await full.transform({ body: [{ key_data: 'PEM', serial_number: '5' }, { key_data: 'PEM', serial_number: '6' }] }, body(KeyMaterialUploadDto)), 1)).toMatch(/^The field "\[1\]\.key_data" /);
  });

  it('names a field of a whole-body object plainly, and the body itself as the body', async () => {
    expect((await refusal({ key_package: { ...keyPackage, leaf_node: 5 } }, body(LastResortUploadDto))).message).toMatch(/^The field "leaf_node" /);
    expect((await refusal({ key_packages: [] }, body(KeyPackagesUploadDto))).message).toBe('The request body should not be empty.');
  });

  it('names the request field of key material PostgreSQL cannot store, as the certstore would refuse it', async () => {
    expect((await refusal({ body: [{ key_data: 'PEM', serial_number: '5' }, { keyData: 'PEM\u0000', serialNumber: 6 }] }, body(KeyMaterialUploadDto))).message).toBe(
      'The field "[1].key_data" (also sent as "keyData") must not contain a NUL character or an unpaired surrogate.',
    );
    expect((await refusal({ body: { key_data: 'a\udbffb', serial_number: '5' } }, body(KeyMaterialUploadDto))).message).toMatch(/^The field "key_data" .* unpaired surrogate\.$/);
    const der = [48, 130, 3, 252, 6, 3, 42, 3, 4, 4, 130, 3, 243, ...Array<number>(1011).fill(255)];
    expect((await refusal({ body: [{ key_data: 'PEM', serial_number: '5', encryption_algorithms: [der, der, der, der, der] }] }, body(KeyMaterialUploadDto))).message).toBe(
      'The field "[0].encryption_algorithms" (also sent as "encryptionAlgorithms" or "encryption_algorithm") is larger than 16384 characters of JSON.',
    );
    // four such identifiers are 16329 characters of JSON: stored
    expect(((await pipe.transform({ body: { key_data: 'PEM', serial_number: '5', encryption_algorithms: [der, der, der, der] } }, body(KeyMaterialUploadDto))) as KeyMaterialUploadDto).body).toHaveLength(1);
  });

  it('names the other names a field is read under, whichever the client used', async () => {
    expect((await refusal({ body: [{ key_data: 'PEM', serialNumber: 1.5 }] }, body(KeyMaterialUploadDto))).message).toBe(
      'The field "[0].serial_number" (also sent as "serialNumber") must be a whole number.',
    );
    expect((await refusal({ body: [{ keyData: 7, serialNumber: 5 }] }, body(KeyMaterialUploadDto))).message).toMatch(/^The field "\[0\]\.key_data" \(also sent as "keyData"\) /);
    expect((await refusal({ body: { key_data: 'PEM', serial_number: 5, encryption_algorithm: [48, 3, 2, 1, 1] } }, body(KeyMaterialUploadDto))).message).toMatch(
      /^The field "encryption_algorithms" \(also sent as "encryptionAlgorithms" or "encryption_algorithm"\) is malformed: /,
    );
    expect((await refusal({ serials: 'x' }, { type: 'query', metatype: SerialSelectionDto })).message).toMatch(/^The field "serials" \(also sent as "serial_numbers" or "serialNumbers"\) /);
  });

  it('names a nested field by its path and keeps a code a check carries', async () => {
    const cert = '-----BEGIN CERTIFICATE-----';
    expect((await refusal({ completed_challenge: { challenge: 'c', signature: 'zz' }, id_cert: cert }, body(IdentifyRequestDto))).message).toMatch(
      /^The field "completed_challenge\.signature" must be the 64 signature bytes/,
    );
    // the other two forms of the completed challenge: their fields named as sent
    expect((await refusal({ challenge: { challenge: 'c', signature: 'zz' }, id_cert: cert }, body(IdentifyRequestDto))).message).toMatch(/^The field "challenge\.signature" must be /);
    expect((await refusal({ challenge: 'c', signature: 'zz', id_cert: cert }, body(IdentifyRequestDto))).message).toMatch(/^The field "signature" must be /);
    expect((await refusal({ challenge: 'c', id_cert: cert }, body(IdentifyRequestDto))).message).toMatch(/^The field "signature" is required/);
    expect((await refusal({ challenge: 7, signature: 'ab'.repeat(64), id_cert: cert }, body(IdentifyRequestDto))).message).toMatch(/^The field "challenge" must be a string/);
    expect((await refusal({ id_cert: cert }, body(IdentifyRequestDto))).message).toMatch(/^The field "completed_challenge" is required/);
    expect(await refusal({ completed_challenge: { challenge: 'c', signature: 'ab'.repeat(64) } }, body(IdentifyRequestDto))).toEqual({
      status: 400,
      code: 'P2CORE_MALFORMED_CERT',
      message: 'The field "id_cert" must be a non-empty string (PEM or base64 DER).',
    });
  });

  it('reads the completed challenge from whichever of the three forms carried it', async () => {
    const completed = { challenge: 'c', signature: 'ab'.repeat(64) };
    for (const form of [{ completed_challenge: completed }, { challenge: completed }, completed]) {
      const request = (await pipe.transform({ ...form, id_cert: 'PEM' }, body(IdentifyRequestDto))) as IdentifyRequestDto;
      expect(completedChallengeOf(request)).toEqual(expect.objectContaining({ challenge: 'c', signature: Buffer.from(completed.signature, 'hex') }));
    }
  });

  it('refuses a body that is no object without naming a field', async () => {
    expect((await refusal([{ completed_challenge: {} }], body(IdentifyRequestDto))).message).toBe('The request body must be a JSON object.');
    expect((await refusal('text', body(IdentifyRequestDto))).message).toBe('The request body must be a JSON object.');
  });
});

describe('request validation: the plain checks of the write routes agree with the decorators', () => {
  const full = requestValidationPipe({ plainChecks: false });
  /** A deep copy made in this realm, own `__proto__` keys and gaps included: structuredClone's
   * objects have the host's Object.prototype, not this test realm's (the one JSON.parse uses), and
   * the plain checks leave such objects to the full pipe. */
  const copy = (value: unknown): unknown => {
    if (typeof value !== 'object' || value === null) return value;
    const copied: Record<string, unknown> = Array.isArray(value) ? (new Array(value.length) as unknown as Record<string, unknown>) : {};
    for (const [key, item] of Object.entries(value)) Object.defineProperty(copied, key, { value: copy(item), enumerable: true, writable: true, configurable: true });
    return copied;
  };
  const outcome = async (p: ReturnType<typeof requestValidationPipe>, value: unknown, metatype: ArgumentMetadata['metatype']) => {
    try {
      // the pipes may change what they are given (the full one strips keys): each gets a copy
      return { accepted: (await p.transform(copy(value), body(metatype))) as unknown };
    } catch (error) {
      if (error instanceof ApiError) return { refused: error.message };
      throw error;
    }
  };
  /** Runs both pipes over each value and expects the same outcome (toStrictEqual: the same DTO
   * classes at every level, the same fields, undefined ones too); returns how many values the plain
   * check answered itself (the full pipe was not asked). */
  const bothPaths = async (values: readonly unknown[], metatype: ArgumentMetadata['metatype']): Promise<number> => {
    let byPlainCheck = 0;
    const fullPipe = jest.spyOn(ValidationPipe.prototype, 'transform');
    try {
      for (const value of values) {
        const expected = await outcome(full, value, metatype);
        const asked = fullPipe.mock.calls.length;
        expect({ value, outcome: await outcome(pipe, value, metatype) }).toStrictEqual({ value, outcome: expected });
        if (fullPipe.mock.calls.length === asked) byPlainCheck++;
      }
    } finally {
      fullPipe.mockRestore();
    }
    return byPlainCheck;
  };
  const label = (n: number) => 'x'.repeat(n);
  const items: unknown[] = [
    keyPackage,
    { ...keyPackage, extensions: [] },
    { ...keyPackage, extensions: null },
    { ...keyPackage, extensions: { a: [1, 'b', { c: true }] } },
    { ...keyPackage, extensions: 'text' },
    { ...keyPackage, extensions: { constructor: 'x' } },
    { ...keyPackage, extensions: [{ prototype: 1 }] },
    { ...keyPackage, extensions: JSON.parse('{"__proto__": {"polluted": true}}') },
    { ...keyPackage, extensions: 'a\u0000b' },
    { ...keyPackage, extensions: 'x'.repeat(20000) },
    { ...keyPackage, extensions: JSON.parse('['.repeat(40) + ']'.repeat(40)) },
    { ...keyPackage, unknown_field: 1 },
    // keys the full pipe strips or does not copy, at any depth
    { ...keyPackage, toString: 'x' },
    { ...keyPackage, hasOwnProperty: 1 },
    { ...keyPackage, extensions: { valueOf: 1, a: 2 } },
    { ...keyPackage, unknown_field: [{ constructor: 1 }] },
    { ...keyPackage, unknown_field: { prototype: { a: 1 } } },
    { ...keyPackage, unknown_field: JSON.parse('['.repeat(70) + ']'.repeat(70)) },
    { ...keyPackage, protocol_version: label(64) },
    { ...keyPackage, protocol_version: label(65) },
    { ...keyPackage, protocol_version: '' },
    { ...keyPackage, cipher_suite: 'tab\there' },
    { ...keyPackage, cipher_suite: 5 },
    { ...keyPackage, init_key: 'q83vASNFZ4k' },
    { ...keyPackage, init_key: 'q83v-_NFZ4k=' },
    { ...keyPackage, init_key: 'A'.repeat(2048) },
    { ...keyPackage, init_key: 'A'.repeat(2052) },
    { ...keyPackage, init_key: '' },
    { ...keyPackage, init_key: 'q83vASNFZ4k==' },
    { ...keyPackage, leaf_node: '====' },
    { ...keyPackage, leaf_node: null },
    { protocol_version: 'mls10' },
    [keyPackage],
    null,
    'text',
    7,
  ];
  const uploads: unknown[] = [...items.map((item) => [item]), ...items, [keyPackage, keyPackage], [], [keyPackage, null], [[keyPackage]], {}];
  const lastResorts: unknown[] = [...items, [keyPackage], [keyPackage, keyPackage], [], [[keyPackage]]];

  it('POST /keypackage/@me: what the plain check accepts, the decorators accept with the same DTO; the rest gets their answer', async () => {
    const values = [...uploads.map((u) => ({ key_packages: u })), {}, { key_packages: undefined }, { key_packages: [keyPackage], other: 1 }];
    expect(await bothPaths(values, KeyPackagesUploadDto)).toBeGreaterThan(20);
  });

  it('both paths keep extensions exactly as sent, keys named like Object.prototype members included, at any depth', async () => {
    const text = '{"constructor":1,"prototype":{"__proto__":{"polluted":true}},"toString":[{"valueOf":null,"hasOwnProperty":{"constructor":{}}}],"a":2}';
    for (const p of [pipe, full]) {
      const upload = (await p.transform(copy({ key_packages: [{ ...keyPackage, extensions: JSON.parse(text) }] }), body(KeyPackagesUploadDto))) as KeyPackagesUploadDto;
      expect(JSON.stringify(upload.key_packages[0]!.extensions)).toBe(text);
      const lastResort = (await p.transform(copy({ key_package: [{ ...keyPackage, extensions: JSON.parse(text) }] }), body(LastResortUploadDto))) as LastResortUploadDto;
      expect(JSON.stringify(lastResort.key_package.extensions)).toBe(text);
    }
    // the keys stayed data: no prototype was changed
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('PUT /keypackage_lr: the same', async () => {
    const values = [...lastResorts.map((u) => ({ key_package: u })), {}, { key_package: keyPackage, other: 1 }];
    expect(await bothPaths(values, LastResortUploadDto)).toBeGreaterThan(10);
  });

  const pem = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----';
  /** PBES2's AlgorithmIdentifier (1.2.840.113549.1.5.13, no parameters) in DER */
  const pbes2 = [48, 11, 6, 9, 42, 134, 72, 134, 247, 13, 1, 5, 13];
  const materials: unknown[] = [
    // the four shapes (docs/protocol.md#key-material-shapes)
    { key_data: pem, serial_number: '4019383941' },
    { keyData: pem, serialNumber: 4019383941, encryptionAlgorithms: ['1.2.840.113549.1.5.13'] },
    { serial_number: [239, 147, 52, 133], key_data: pem, encryption_algorithm: pbes2 },
    { key_data: pem, serial_number: '5', encryption_algorithms: [pbes2, '1.2.3'] },
    // a field under two names, or null under one
    { key_data: pem, keyData: 'other', serial_number: '5', serialNumber: 6 },
    { key_data: null, keyData: pem, serial_number: null, serialNumber: '7', encryption_algorithms: null, encryption_algorithm: '1.2.3' },
    { key_data: pem, serial_number: '5', encryption_algorithms: null },
    { key_data: pem, serial_number: '5', encryption_algorithms: [] },
    { key_data: pem, serial_number: '5', encryption_algorithms: '1.2.3' },
    // each field wrong in turn
    { serial_number: '5' },
    { key_data: '', serial_number: '5' },
    { key_data: ' \n', serial_number: '5' },
    { key_data: 5, serial_number: '5' },
    { key_data: [pem], serial_number: '5' },
    { key_data: pem },
    ...[' 5 ', '05', '0', '-1', '1.5', 'x', '9'.repeat(50), (2n ** 159n - 1n).toString(), (2n ** 159n).toString(), 0, -1, 1.5, 2 ** 53 - 1, 2 ** 53, [], [0], [1, 256], Array(33).fill(1), Array(20).fill(255), {}, true].map(
      (serial) => ({ key_data: pem, serial_number: serial }),
    ),
    ...['x', '1.40.1', '', ['1.2.3', 7], [[]], [1.5], [pbes2.slice(0, 5)], Array(17).fill('1.2.3'), Array(16).fill('1.2.3'), {}, 5, true].map((algorithms) => ({
      key_data: pem,
      serial_number: '5',
      encryption_algorithms: algorithms,
    })),
    // what PostgreSQL cannot store as sent (the certstore refuses it too)
    { key_data: 'PEM\u0000', serial_number: '5' },
    { keyData: '\ud800PEM', serialNumber: 5 },
    { key_data: '\udc00', serial_number: '5' },
    { key_data: pem, serial_number: '5', encryption_algorithms: Array(16).fill([48, 130, 3, 252, 6, 3, 42, 3, 4, 4, 130, 3, 243, ...Array<number>(1011).fill(255)]) },
    { key_data: pem, serial_number: '5', encryption_algorithms: Array(16).fill([48, 130, 1, 0, 6, 3, 42, 3, 4, 4, 129, 248, ...Array<number>(248).fill(255)]) },
    // other fields, kept; keys the full pipe strips or does not copy
    { key_data: pem, serial_number: '5', comment: { a: [1, null] } },
    { key_data: pem, serial_number: '5', toString: 'x' },
    { key_data: pem, serial_number: '5', comment: { constructor: 1 } },
    { key_data: pem, serial_number: '5', comment: [{ prototype: 1 }] },
    { key_data: pem, serial_number: '5', comment: JSON.parse('{"__proto__": {"polluted": true}}') },
    { key_data: pem, serial_number: '5', comment: JSON.parse('['.repeat(70) + ']'.repeat(70)) },
    null,
    'text',
    7,
  ];
  const materialBodies: unknown[] = [...materials.map((m) => [m]), ...materials, [materials[0], materials[1], materials[2]], [], [materials[0], null], [[materials[0]]], {}];

  it('POST /session/keymaterial: the same', async () => {
    const values = [...materialBodies.map((b) => ({ body: b })), {}, { body: undefined }, { body: [materials[0]], other: 1 }];
    expect(await bothPaths(values, KeyMaterialUploadDto)).toBeGreaterThan(20);
  });

  it('the plain checks answer the usual requests themselves (the full pipe is not asked)', async () => {
    const transform = jest.spyOn(Object.getPrototypeOf(Object.getPrototypeOf(pipe)) as { transform: () => unknown }, 'transform');
    try {
      const upload = (await pipe.transform({ key_packages: [keyPackage, { ...keyPackage, extensions: [] }] }, body(KeyPackagesUploadDto))) as KeyPackagesUploadDto;
      const lastResort = (await pipe.transform({ key_package: keyPackage }, body(LastResortUploadDto))) as LastResortUploadDto;
      const material = (await pipe.transform({ body: [{ keyData: pem, serialNumber: 5, encryption_algorithm: pbes2 }] }, body(KeyMaterialUploadDto))) as KeyMaterialUploadDto;
      // the other shapes, and one item without the array
      for (const shape of [...materials.slice(0, 4).map((m) => [m]), materials[0]]) await pipe.transform({ body: shape }, body(KeyMaterialUploadDto));
      expect(transform).not.toHaveBeenCalled();
      expect(material.body[0]).toBeInstanceOf(KeyMaterialItemDto);
      expect(material.body[0]).toEqual(expect.objectContaining({ key_data: pem, serial_number: '5', encryption_algorithms: pbes2 }));
      expect(upload).toBeInstanceOf(KeyPackagesUploadDto);
      expect(upload.key_packages[1]).toEqual({ ...keyPackage, extensions: [] });
      expect(lastResort.key_package).toEqual(keyPackage);
    } finally {
      transform.mockRestore();
    }
  });
});

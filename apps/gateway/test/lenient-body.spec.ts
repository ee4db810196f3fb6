import Fastify, { type FastifyInstance } from 'fastify';
import { installLenientBodyParsing, listBodyConfig, MAX_BODY_DEPTH, nestsDeeperThan, quoteUnsafeIntegers } from '../src/http/lenient-body';

describe('quoteUnsafeIntegers (64-bit serials as JSON numbers)', () => {
  const read = (text: string): unknown => JSON.parse(quoteUnsafeIntegers(text));

  it('keeps an integer beyond 2^53 − 1 exactly, as its decimal string', () => {
    expect(read('[18446744073709551615, 9007199254740993]')).toEqual(['18446744073709551615', '9007199254740993']);
    expect(read('{"serialNumber":12345678901234567890,"key_data":"x"}')).toEqual({ serialNumber: '12345678901234567890', key_data: 'x' });
    expect(read('-9007199254740993')).toBe('-9007199254740993');
  });

  it('leaves safe integers, decimals, exponents and strings alone', () => {
    expect(read('[9007199254740991, 1.5, 12345678901234567890.5, 1e300, "12345678901234567890"]')).toEqual([9007199254740991, 1.5, 1.2345678901234567e19, 1e300, '12345678901234567890']);
    expect(read('{"a\\"12345678901234567890":"\\\\12345678901234567890"}')).toEqual({ 'a"12345678901234567890': '\\12345678901234567890' });
  });

  it('does not make invalid JSON valid', () => {
    expect(() => read('[012345678901234567890]')).toThrow(SyntaxError);
    expect(() => read('[12345678901234567890')).toThrow(SyntaxError);
  });
});

describe('a list parameter named in the query wins over the body, under any of its names (docs/protocol.md#query-wins)', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    installLenientBodyParsing(app);
    app.get('/serials', { config: listBodyConfig('serials', ['serial_numbers', 'serialNumbers']) }, async (request) => request.query);
    await app.ready();
  });

  afterAll(() => app.close());

  const query = async (url: string, body?: string) => (await app.inject({ method: 'GET', url, ...(body === undefined ? {} : { payload: body }) })).json();

  it('reads the body when the query names none of them', async () => {
    expect(await query('/serials', '[2]')).toEqual({ serials: [2] });
    expect(await query('/serials', '{"serial_numbers": ["2"]}')).toEqual({ serial_numbers: ['2'] });
  });

  it('ignores the body when the query names the list under its own name or another', async () => {
    expect(await query('/serials?serials=1', '[2]')).toEqual({ serials: '1' });
    expect(await query('/serials?serial_numbers=1', '[2]')).toEqual({ serial_numbers: '1' });
    expect(await query('/serials?serial_numbers=1', '{"serials": ["2"]}')).toEqual({ serial_numbers: '1' });
    expect(await query('/serials?serials=1', '{"serial_numbers": ["2"], "other": 3}')).toEqual({ serials: '1', other: 3 });
  });
});

describe('nestsDeeperThan (bodies nested past what any route reads)', () => {
  const nested = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('counts arrays and objects opened inside one another', () => {
    expect(nestsDeeperThan(nested(MAX_BODY_DEPTH), MAX_BODY_DEPTH)).toBe(false);
    expect(nestsDeeperThan(nested(MAX_BODY_DEPTH + 1), MAX_BODY_DEPTH)).toBe(true);
    expect(nestsDeeperThan(`${'{"a":'.repeat(3)}1${'}'.repeat(3)}`, 2)).toBe(true);
    // side by side is not deeper
    expect(nestsDeeperThan('[[1],[2],{"a":[3]}]', 3)).toBe(false);
  });

  it('does not count brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(`{"a":"${'['.repeat(100)}"}`, 1)).toBe(false);
    const escapes = String.raw`["\\",["\"[[[["]]`;
    expect(JSON.parse(escapes)).toEqual(['\\', ['"[[[[']]);
    expect(nestsDeeperThan(escapes, 2)).toBe(false);
  });

  it('leaves room for the deepest field a route takes (a KeyPackage\'s extensions, depth 32, in a list)', () => {
    const extensions = JSON.parse(nested(32)) as unknown;
    expect(nestsDeeperThan(JSON.stringify([{ protocol_version: 'mls10', extensions }]), MAX_BODY_DEPTH)).toBe(false);
  });
});

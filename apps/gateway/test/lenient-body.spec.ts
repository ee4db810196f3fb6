import Fastify, { type FastifyInstance } from 'fastify';
import { installLenientBodyParsing, listBodyConfig, quoteUnsafeIntegers } from '../src/http/lenient-body';

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

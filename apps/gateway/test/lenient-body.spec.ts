import Fastify, { type FastifyInstance } from 'fastify';
import { exactIntegersConfig, installLenientBodyParsing, listBodyConfig, MAX_BODY_DEPTH, nestsDeeperThan, quoteUnsafeIntegers } from '../src/http/lenient-body';

describe('quoteUnsafeIntegers (64-bit serials as JSON numbers)', () => {
  // a list route's scope: the body may be the bare list
  const read = (text: string): unknown => JSON.parse(quoteUnsafeIntegers(text, { fields: ['serialNumber'], wholeBody: true }));

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

describe('quoteUnsafeIntegers: exact only where the route reads big integers (docs/protocol.md#integers)', () => {
  const serials = { fields: ['serial_number', 'serials'], wholeBody: false };
  const read = (text: string, scope = serials): unknown => JSON.parse(quoteUnsafeIntegers(text, scope));
  const big = '18446744073709551617123';

  it('rewrites inside the named fields, at any depth, and nowhere else', () => {
    expect(read(`[{"serial_number":${big},"key_data":${big}}]`)).toEqual([{ serial_number: big, key_data: Number(big) }]);
    expect(read(`{"serials":[${big},[${big}]],"actor_name":${big},"auth_payload":{"password":${big}}}`)).toEqual({
      serials: [big, [big]],
      actor_name: Number(big),
      auth_payload: { password: Number(big) },
    });
    // a field of the same name inside another field's value is still that name
    expect(read(`{"other":{"serial_number":${big}}}`)).toEqual({ other: { serial_number: big } });
    expect(read(`{"serial\\u005fnumber":${big}}`)).toEqual({ serial_number: big });
  });

  it('reads a bare array or a lone value only when the whole body is in scope', () => {
    expect(read(`[${big}]`)).toEqual([Number(big)]);
    expect(read(big)).toBe(Number(big));
    expect(read(`[${big}]`, { fields: [], wholeBody: true })).toEqual([big]);
    // a body that is an object is read by its fields, even on such a route
    expect(read(`{"serials":[${big}],"foo":${big}}`, { fields: ['serials'], wholeBody: true })).toEqual({ serials: [big], foo: Number(big) });
  });

  it('takes a literal of any length whole: valid JSON stays valid', () => {
    const nines = '9'.repeat(1000);
    expect(read(`{"serials":[${nines}],"timestamp":${nines}}`)).toEqual({ serials: [nines], timestamp: Infinity });
    expect(read(`{"timestamp":${nines}}`, { fields: ['timestamp'], wholeBody: false })).toEqual({ timestamp: nines });
    expect(read(`[${'1'.repeat(401)}.5e3]`, { fields: [], wholeBody: true })).toEqual([Number(`${'1'.repeat(401)}.5e3`)]);
  });

  it('does not make a number where a key belongs into a key', () => {
    expect(() => read('{12345678901234567890:1}')).toThrow(SyntaxError);
    expect(() => read('{"serials":1,12345678901234567890:1}')).toThrow(SyntaxError);
  });
});

describe('the body reader: big integers, text fields and unparseable Content-Types', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    installLenientBodyParsing(app);
    app.post('/echo', async (request) => ({ body: request.body }));
    app.post('/keymaterial', { config: exactIntegersConfig(['serial_number']) }, async (request) => ({ body: request.body }));
    app.get('/serials', { config: { ...listBodyConfig('serials'), ...exactIntegersConfig(['serials']) } }, async (request) => request.query);
    await app.ready();
  });

  afterAll(() => app.close());

  const send = async (method: 'GET' | 'POST', url: string, payload: string, headers: Record<string, string> = {}) => {
    const res = await app.inject({ method, url, payload, headers });
    return { status: res.statusCode, body: res.json() as unknown };
  };
  const big = '18446744073709551617123';

  it('keeps a big integer a number on a route that reads none, as a text field must refuse it', async () => {
    expect(await send('POST', '/echo', `{"actor_name":${big}}`)).toEqual({ status: 200, body: { body: { actor_name: Number(big) } } });
  });

  it('reads it exactly in the fields the route names, and as the list of a bare array body', async () => {
    expect(await send('POST', '/keymaterial', `[{"serial_number":${big},"key_data":${big}}]`)).toEqual({
      status: 200,
      body: { body: [{ serial_number: big, key_data: Number(big) }] },
    });
    expect(await send('GET', '/serials', `[${big}]`)).toEqual({ status: 200, body: { serials: [big] } });
  });

  it('parses a valid body with an integer literal over 400 digits', async () => {
    const nines = '9'.repeat(1000);
    expect(await send('GET', '/serials', `{"serials":[${nines}]}`)).toEqual({ status: 200, body: { serials: [nines] } });
  });

  it('reads a body whose Content-Type does not parse as if it had none', async () => {
    for (const contentType of [';;;', 'json', '/']) {
      expect(await send('POST', '/echo', '{"a":1}', { 'content-type': contentType })).toEqual({ status: 200, body: { body: { a: 1 } } });
    }
    expect(await send('POST', '/echo', 'PEM text', { 'content-type': ';;;' })).toEqual({ status: 200, body: { body: 'PEM text' } });
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

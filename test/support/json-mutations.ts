import { prng } from '../../libs/polyproto/test/fixtures/prng';

/** Changes to JSON values that careless and hostile peers make, drawn from a seeded generator so
 * that a failure can be run again: the generated-request tests of the gateway, the certstore and
 * federation share them. */

export type Rng = ReturnType<typeof prng>;
export { prng };

/** Values a client may send where another was expected: wrong types, edge numbers, odd strings. */
export const ODD_VALUES: readonly unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  2 ** 53,
  '',
  ' ',
  '0',
  '-1',
  'NaN',
  '1e400',
  '\u0000',
  '\ud800',
  '💥',
  'a'.repeat(5000),
  '%00',
  '../../etc/passwd',
  '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
  '-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n',
  'MAA=',
  [],
  [null],
  [[[[[[[[[[[]]]]]]]]]]],
  {},
  JSON.parse('{"__proto__": {"polluted": true}}'),
  { constructor: { prototype: { polluted: true } } },
  { $gt: '' },
];

/** Every place in a JSON value a mutation can reach: [] is the whole value. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  const here = [at];
  if (Array.isArray(value)) return here.concat(...value.map((item, i) => paths(item, [...at, i])));
  if (value !== null && typeof value === 'object') return here.concat(...Object.entries(value).map(([key, item]) => paths(item, [...at, key])));
  return here;
}

function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** `value` with the node at `path` replaced by `make(old)`, or removed when `make` gives undefined. */
function replaceAt(value: unknown, path: (string | number)[], make: (old: unknown) => unknown): unknown {
  if (path.length === 0) return make(value);
  const copy = clone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  const next = make(node[last]);
  if (next !== undefined) node[last] = next;
  else if (Array.isArray(node)) node.splice(Number(last), 1);
  else delete node[last];
  return copy;
}

export function mutateJson(rng: Rng, json: unknown): { body: string; mutation: string } {
  const targets = paths(json);
  const path = rng.pick(targets);
  const where = path.length === 0 ? 'the body' : path.join('.');
  switch (rng.int(6)) {
    case 0: {
      const odd = rng.pick(ODD_VALUES);
      return { body: JSON.stringify(replaceAt(json, path, () => odd)), mutation: `${where} = ${JSON.stringify(odd)?.slice(0, 60)}` };
    }
    case 1:
      return { body: JSON.stringify(replaceAt(json, path, () => undefined) ?? null), mutation: `${where} removed` };
    case 2:
      return { body: JSON.stringify(replaceAt(json, path, (old) => [old, old])), mutation: `${where} doubled into an array` };
    case 3:
      return { body: JSON.stringify(replaceAt(json, path, (old) => ({ value: old, extra: rng.pick(ODD_VALUES) }))), mutation: `${where} wrapped in an object` };
    case 4: {
      const text = JSON.stringify(json) ?? '';
      const cut = rng.int(text.length + 1);
      return { body: text.slice(0, cut), mutation: `the JSON cut after ${cut} characters` };
    }
    default: {
      const text = JSON.stringify(json) ?? '';
      const at = rng.int(text.length + 1);
      const noise = String.fromCharCode(...Array.from({ length: 1 + rng.int(4) }, () => rng.int(0x80)));
      return { body: text.slice(0, at) + noise + text.slice(at), mutation: `${JSON.stringify(noise)} inserted at ${at}` };
    }
  }
}


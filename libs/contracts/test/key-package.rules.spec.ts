import { randomBytes } from 'node:crypto';
import { decodeBase64, isCanonicalBase64, storableJsonProblem } from '../src/key-package.rules';

describe('decodeBase64', () => {
  it('reads standard and URL-safe base64, padded or not, back to the same bytes', () => {
    for (let length = 1; length <= 64; length++) {
      const bytes = randomBytes(length);
      const standard = bytes.toString('base64');
      const unpadded = standard.replace(/=+$/, '');
      const urlSafe = bytes.toString('base64url');
      for (const text of [standard, unpadded, urlSafe, `${urlSafe}${'='.repeat(standard.length - unpadded.length)}`]) {
        expect(decodeBase64(text)?.equals(bytes)).toBe(true);
      }
    }
  });

  it('reads a text that mixes both alphabets', () => {
    expect(decodeBase64('-_8+/w')).toEqual(Buffer.from([0xfb, 0xff, 0x3e, 0xff]));
  });

  it.each([
    ['empty', ''],
    ['only padding', '=='],
    ['a character outside both alphabets', 'AAA*'],
    ['whitespace', 'AAAA AAAA'],
    ['three padding characters', 'AA==='],
    ['padding inside the text', 'AA==AAAA'],
    ['a length of 4n + 1', 'AAAAA'],
    ['padding that does not end on a multiple of 4', 'AAAAAA='],
  ])('refuses %s', (_, text) => {
    expect(decodeBase64(text)).toBeUndefined();
  });

  it('takes padding that ends on a multiple of 4', () => {
    expect(decodeBase64('AAAAAA==')).toEqual(Buffer.alloc(4));
    expect(decodeBase64('AAAAAAA=')).toEqual(Buffer.alloc(5));
  });
});

describe('isCanonicalBase64', () => {
  it('takes only the padded standard spelling Node writes', () => {
    const bytes = Buffer.from([0xfb, 0xff, 0x3e]);
    expect(isCanonicalBase64(bytes.toString('base64'), 100)).toBe(true);
    expect(isCanonicalBase64(bytes.toString('base64url'), 100)).toBe(false);
    expect(isCanonicalBase64('AAAAAA', 100)).toBe(false);
    expect(isCanonicalBase64('AAAAAA==', 100)).toBe(true);
    expect(isCanonicalBase64('AAAAAA==', 7)).toBe(false);
  });
});

describe('storableJsonProblem: nesting', () => {
  const nested = (levels: number, open: string, close: string, inner = '') => JSON.parse(`${open.repeat(levels)}${inner}${close.repeat(levels)}`);

  it('counts every array and object as a level, empty or not: 32 pass, 33 do not', () => {
    for (const [open, close, inner] of [
      ['[', ']', ''],
      ['[', ']', '1'],
      ['{"a":', '}', '{}'],
    ] as const) {
      // the object case ends in {} itself: levels - 1 wrappers around it
      const levels = (n: number) => (inner === '{}' ? n - 1 : n);
      expect(storableJsonProblem(nested(levels(32), open, close, inner))).toBeUndefined();
      expect(storableJsonProblem(nested(levels(33), open, close, inner))).toBe('is nested deeper than 32 levels');
    }
    expect(storableJsonProblem(nested(32, '{"a":', '}', '1'))).toBeUndefined();
    expect(storableJsonProblem(nested(33, '{"a":', '}', '1'))).toBe('is nested deeper than 32 levels');
    expect(storableJsonProblem('text')).toBeUndefined();
    expect(storableJsonProblem({ a: 1 }, { maxChars: 100, maxDepth: 1 })).toBeUndefined();
    expect(storableJsonProblem({ a: [] }, { maxChars: 100, maxDepth: 1 })).toBe('is nested deeper than 1 levels');
  });
});

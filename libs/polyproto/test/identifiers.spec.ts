import { isCanonicalSerial, isSerialInRange, normalizeDomain, normalizeLocalName, parseFederationId, randomSerial, MAX_ISSUED_SERIAL, SERIAL_DECIMAL, validateSessionId } from '@p2/polyproto';
import { expectPolyprotoError } from './fixtures/expect-error';

describe('parseFederationId', () => {
  it('parses and lowercases local@domain', () => {
    const fid = parseFederationId('Flori@Polyphony.CHAT');
    expect(fid.localName).toBe('flori');
    expect(fid.domain).toBe('polyphony.chat');
    expect(fid.toString()).toBe('flori@polyphony.chat');
    expect(`${fid}`).toBe('flori@polyphony.chat');
    expect(JSON.stringify({ fid })).toBe('{"fid":"flori@polyphony.chat"}');
    expect(Object.isFrozen(fid)).toBe(true);
  });

  it.each(['a.b_c%d+e-f@x.y', 'x@localhost', '1@xn--bcher-kva.example', `${'a'.repeat(64)}@example.com`])('accepts %j', (input) => {
    expect(parseFederationId(input).toString()).toBe(input.toLowerCase());
  });

  it.each([
    ['empty', ''],
    ['no @', 'alice'],
    ['two @', 'a@b@example.com'],
    ['empty local part', '@example.com'],
    ['empty domain', 'alice@'],
    ['65-char local part', `${'a'.repeat(65)}@example.com`],
    ['space', 'al ice@example.com'],
    ['non-ASCII local part', 'ali©e@example.com'],
    ['Kelvin sign (lowercases to ASCII k)', '\u212Aelvin@example.com'],
    ['IDN domain not in punycode', 'alice@bücher.example'],
    ['empty label', 'alice@example..com'],
    ['trailing dot', 'alice@example.com.'],
    ['underscore in domain', 'alice@ex_ample.com'],
    ['label with edge hyphen', 'alice@-example.com'],
    ['64-char label', `alice@${'a'.repeat(64)}.com`],
  ])('refuses %s', (_label, input) => {
    expectPolyprotoError(() => parseFederationId(input), 'FEDERATION_ID_INVALID', 'federationId');
  });

  it('refuses non-strings with a PolyprotoError', () => {
    for (const v of [undefined, null, 42, {}, ['a@b.c']]) expectPolyprotoError(() => parseFederationId(v as never), 'FEDERATION_ID_INVALID', 'federationId');
  });
});

describe('normalizeLocalName', () => {
  it('lowercases', () => {
    expect(normalizeLocalName('ALICE.Smith+tag')).toBe('alice.smith+tag');
  });

  it.each(['', 'a'.repeat(65), 'a b', 'a@b', 'ä', '\u212A', 'a/b'])('refuses %j', (input) => {
    expectPolyprotoError(() => normalizeLocalName(input), 'ACTOR_NAME_INVALID', 'actorName');
  });

  it('refuses non-strings', () => {
    expectPolyprotoError(() => normalizeLocalName(7 as never), 'ACTOR_NAME_INVALID', 'actorName');
  });
});

describe('normalizeDomain', () => {
  it('lowercases and keeps valid DNS names', () => {
    expect(normalizeDomain('Polyphony.Chat')).toBe('polyphony.chat');
    expect(normalizeDomain('a-b.c0')).toBe('a-b.c0');
  });

  it.each(['', '.', 'a..b', 'a.', '-a.b', 'a-.b', 'a_b.c', 'ü.de', `${'a'.repeat(64)}.b`, `${'a.'.repeat(127)}ab`])('refuses %j', (input) => {
    expectPolyprotoError(() => normalizeDomain(input), 'DOMAIN_INVALID', 'domain');
  });
});

describe('validateSessionId', () => {
  it.each(['x', ' ', '~', 'client 1', 'A'.repeat(32), ' !"#$%&\'()*+,-./0123456789:;<=>?'])('accepts %j', (input) => {
    expect(validateSessionId(input)).toBe(input);
  });

  it.each([
    ['empty', ''],
    ['33 characters', 'a'.repeat(33)],
    ['a control character', 'a\tb'],
    ['DEL', 'a\u007f'],
    ['non-ASCII', 'sessü'],
    ['an emoji', 'sess😀'],
  ])('refuses %s', (_label, input) => {
    expectPolyprotoError(() => validateSessionId(input), 'SESSION_ID_INVALID', 'sessionId');
  });

  it('refuses non-strings', () => {
    expectPolyprotoError(() => validateSessionId(undefined as never), 'SESSION_ID_INVALID', 'sessionId');
  });
});

describe('randomSerial', () => {
  it('returns integers in [1, 2^53 − 1] that fit a JS number exactly, and they vary', () => {
    const seen = new Set<bigint>();
    let highBitSeen = false;
    for (let i = 0; i < 2000; i++) {
      const s = randomSerial();
      expect(typeof s).toBe('bigint');
      expect(s >= 1n && s <= MAX_ISSUED_SERIAL).toBe(true);
      expect(BigInt(Number(s))).toBe(s);
      if (s >= 2n ** 52n) highBitSeen = true;
      seen.add(s);
    }
    expect(seen.size).toBe(2000);
    expect(highBitSeen).toBe(true); // the top bit (bit 52) is used: the range is really 53 bits
    expect(MAX_ISSUED_SERIAL).toBe(2n ** 53n - 1n);
  });
});

describe('serials in requests and commands (docs/protocol.md#serials)', () => {
  const largest = 2n ** 159n - 1n; // 20 DER octets, the top bit clear

  it('accepts 1 … 2^159 − 1 (a positive DER INTEGER of at most 20 octets) and nothing else', () => {
    expect([1n, MAX_ISSUED_SERIAL, largest].map(isSerialInRange)).toEqual([true, true, true]);
    expect([0n, -1n, largest + 1n, 2n ** 160n].map(isSerialInRange)).toEqual([false, false, false, false]);
  });

  it('takes the canonical decimal form only as canonical: no leading zero, no sign, no spaces, in range', () => {
    expect(['1', '4019383941', largest.toString()].map(isCanonicalSerial)).toEqual([true, true, true]);
    expect(['0', '01', '+1', '-1', ' 1', '1.0', '', (largest + 1n).toString(), '1'.padEnd(61, '0'), 1].map(isCanonicalSerial)).toEqual(
      [false, false, false, false, false, false, false, false, false, false],
    );
  });

  it('reads up to 60 decimal digits as a possible serial (leading zeros included), never more', () => {
    expect(SERIAL_DECIMAL.test('007')).toBe(true);
    expect(SERIAL_DECIMAL.test('9'.repeat(60))).toBe(true);
    expect(SERIAL_DECIMAL.test('9'.repeat(61))).toBe(false);
    expect(SERIAL_DECIMAL.test('12a')).toBe(false);
  });
});

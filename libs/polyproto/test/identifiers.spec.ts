import { generateKeyPairSync } from 'node:crypto';
import { createHomeServerRootCert, ed25519SignerFromPrivateKey, isCanonicalSerial, isSerialInRange, normalizeDomain, normalizeLocalName, parseFederationId, randomSerial, MAX_ISSUED_SERIAL, SERIAL_DECIMAL, validateSessionId } from '@p2/polyproto';
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

describe('randomSerial (docs/protocol.md#serials)', () => {
  /** The content octets of the serial's DER INTEGER in a certificate this library issues. */
  function serialContentOctets(serial: bigint): Buffer {
    const root = createHomeServerRootCert({
      domain: 'example.com',
      serial,
      notBefore: new Date('2025-01-01T00:00:00Z'),
      notAfter: new Date('2026-01-01T00:00:00Z'),
      signer: ed25519SignerFromPrivateKey(generateKeyPairSync('ed25519').privateKey),
    });
    // Certificate SEQUENCE → tbsCertificate SEQUENCE → [0] version → serialNumber INTEGER
    const der = Buffer.from(root.der);
    const skipHeader = (at: number): number => (der[at + 1]! < 0x80 ? at + 2 : at + 2 + (der[at + 1]! & 0x7f));
    const tbs = skipHeader(0);
    const version = skipHeader(tbs);
    const serialAt = version + 2 + der[version + 1]!;
    expect(der[serialAt]).toBe(0x02);
    const length = der[serialAt + 1]!;
    return der.subarray(serialAt + 2, serialAt + 2 + length);
  }

  it('draws 64 bits: every bit position takes both values, and values spread over the whole u64 range', () => {
    const ones = new Array<number>(64).fill(0);
    const seen = new Set<bigint>();
    const draws = 4000;
    for (let i = 0; i < draws; i++) {
      const s = randomSerial();
      expect(s >= 1n && s <= MAX_ISSUED_SERIAL).toBe(true);
      seen.add(s);
      for (let bit = 0; bit < 64; bit++) if ((s >> BigInt(bit)) & 1n) ones[bit]!++;
    }
    expect(seen.size).toBe(draws);
    // a fair bit is set in 4000 draws between 1700 and 2300 times with overwhelming probability (> 9 sigma)
    for (const count of ones) expect(count > 1700 && count < 2300).toBe(true);
    expect(MAX_ISSUED_SERIAL).toBe(2n ** 64n - 1n);
  });

  it('encodes as a positive, minimal DER INTEGER: first octet < 0x80, a leading 0x00 only before an octet ≥ 0x80', () => {
    const values = [...Array.from({ length: 300 }, () => randomSerial()), 1n, 0x7fn, 0x80n, 2n ** 63n - 1n, 2n ** 63n, MAX_ISSUED_SERIAL];
    for (const value of values) {
      const octets = serialContentOctets(value);
      expect(octets[0]! < 0x80).toBe(true);
      if (octets.length > 1 && octets[0] === 0) expect(octets[1]! >= 0x80).toBe(true);
      expect(octets.length).toBeLessThanOrEqual(9);
      expect(BigInt(`0x${octets.toString('hex')}`)).toBe(value);
    }
    expect(serialContentOctets(MAX_ISSUED_SERIAL).toString('hex')).toBe('00ffffffffffffffff');
    expect(serialContentOctets(2n ** 63n - 1n).toString('hex')).toBe('7fffffffffffffff');
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

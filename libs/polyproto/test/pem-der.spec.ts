import { decodePemOrDer, toPem } from '@p2/polyproto';
import { DerReader, encodeUnsignedInteger, tlv } from '../src/der';
import { lengthBytes, seq, tlv as refTlv } from './fixtures/der';
import { expectPolyprotoError } from './fixtures/expect-error';

const der = seq(Buffer.alloc(100, 0x05));
const pemText = (label: string, body = der.toString('base64').replace(/(.{64})/g, '$1\n')) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;

describe('decodePemOrDer', () => {
  it('decodes PEM with the expected label, with CRLF line ends and surrounding whitespace', () => {
    expect(Buffer.from(decodePemOrDer(pemText('CERTIFICATE'), 'CERTIFICATE')).equals(der)).toBe(true);
    expect(Buffer.from(decodePemOrDer(`\r\n  ${pemText('CERTIFICATE').replace(/\n/g, '\r\n')}  `, 'CERTIFICATE')).equals(der)).toBe(true);
  });

  it('accepts the legacy NEW CERTIFICATE REQUEST label for CSRs', () => {
    expect(Buffer.from(decodePemOrDer(pemText('NEW CERTIFICATE REQUEST'), 'CERTIFICATE REQUEST')).equals(der)).toBe(true);
  });

  it('decodes bare base64 (standard or URL-safe, padding optional), raw DER bytes and PEM bytes', () => {
    expect(Buffer.from(decodePemOrDer(der.toString('base64'), 'CERTIFICATE')).equals(der)).toBe(true);
    expect(Buffer.from(decodePemOrDer(der.toString('base64url'), 'CERTIFICATE')).equals(der)).toBe(true);
    expect(Buffer.from(decodePemOrDer(der, 'CERTIFICATE')).equals(der)).toBe(true);
    expect(Buffer.from(decodePemOrDer(Buffer.from(pemText('CERTIFICATE')), 'CERTIFICATE')).equals(der)).toBe(true);
  });

  it('returns a copy of raw DER input', () => {
    const input = Buffer.from(der);
    const out = decodePemOrDer(input, 'CERTIFICATE');
    input[0] = 0;
    expect(out[0]).toBe(0x30);
  });

  it.each([
    ['a wrong label', pemText('CERTIFICATE REQUEST'), 'CERT_MALFORMED'],
    ['BEGIN/END labels that differ', pemText('CERTIFICATE').replace('END CERTIFICATE', 'END X509 CRL'), 'CERT_MALFORMED'],
    ['no END line', `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n`, 'CERT_MALFORMED'],
    ['two PEM blocks', pemText('CERTIFICATE') + pemText('CERTIFICATE'), 'CERT_MALFORMED'],
    ['a body that is not base64', pemText('CERTIFICATE', 'not*base64!'), 'CERT_MALFORMED'],
    ['a PEM header line', pemText('CERTIFICATE', `Proc-Type: 4,ENCRYPTED\n${der.toString('base64')}`), 'CERT_MALFORMED'],
    ['empty text', '   ', 'CERT_MALFORMED'],
    ['an impossible base64 length', 'QUJDR', 'CERT_MALFORMED'],
  ])('refuses %s', (_label, input, code) => {
    expectPolyprotoError(() => decodePemOrDer(input, 'CERTIFICATE'), code, 'pem');
  });

  it('uses the CSR code for CSR input', () => {
    expectPolyprotoError(() => decodePemOrDer(pemText('CERTIFICATE'), 'CERTIFICATE REQUEST'), 'CSR_MALFORMED', 'pem');
  });

  it('refuses binary that is neither DER nor text, oversized input and non-string input', () => {
    expectPolyprotoError(() => decodePemOrDer(Buffer.of(0x01, 0x02, 0xff), 'CERTIFICATE'), 'CERT_MALFORMED', 'pem');
    expectPolyprotoError(() => decodePemOrDer(Buffer.alloc(0), 'CERTIFICATE'), 'CERT_MALFORMED', 'pem');
    expectPolyprotoError(() => decodePemOrDer('A'.repeat(70_000), 'CERTIFICATE'), 'CERT_MALFORMED', 'pem');
    expectPolyprotoError(() => decodePemOrDer(Buffer.concat([Buffer.of(0x30), Buffer.alloc(70_000)]), 'CERTIFICATE'), 'CERT_MALFORMED', 'pem');
    for (const v of [undefined, null, 3, {}, []]) expectPolyprotoError(() => decodePemOrDer(v as never, 'CERTIFICATE'), 'CERT_MALFORMED', 'pem');
  });
});

describe('toPem', () => {
  it('writes 64-character lines and a trailing newline, and round-trips', () => {
    const big = seq(Buffer.alloc(500, 0xab));
    const text = toPem(big, 'PUBLIC KEY');
    const lines = text.split('\n');
    expect(lines[0]).toBe('-----BEGIN PUBLIC KEY-----');
    expect(lines.slice(1, -3).every((l) => l.length === 64)).toBe(true);
    expect(lines.at(-2)).toBe('-----END PUBLIC KEY-----');
    expect(lines.at(-1)).toBe('');
    expect(Buffer.from(decodePemOrDer(toPem(big, 'CERTIFICATE'), 'CERTIFICATE')).equals(big)).toBe(true);
  });
});

describe('DER reader and writer', () => {
  it.each([0, 1, 127, 128, 255, 256, 65535, 65536])('writes a minimal length for %i content octets, as the reference encoder does', (n) => {
    const content = Buffer.alloc(n, 1);
    expect(tlv(0x04, content).equals(refTlv(0x04, content))).toBe(true);
    expect(lengthBytes(n).equals(tlv(0x04, content).subarray(1, 1 + lengthBytes(n).length))).toBe(true);
    const r = new DerReader(tlv(0x04, content), 'X');
    const t = r.read(0, r.buf.length, 'f');
    expect(t.end - t.contentStart).toBe(n);
  });

  it.each([
    ['indefinite length', '3080'],
    ['non-minimal short length', '30810100'],
    ['non-minimal long length', '3082007f'],
    ['length beyond the buffer', '3005000000'],
    ['five length octets', '308500000000010000'],
    ['high tag number', '1f0100'],
    ['one byte', '30'],
  ])('refuses %s', (_label, h) => {
    const buf = Buffer.from(h, 'hex');
    expectPolyprotoError(() => new DerReader(buf, 'TEST_MALFORMED').read(0, buf.length, 'f'), 'TEST_MALFORMED', 'f');
  });

  it('refuses a child that runs past its parent', () => {
    const buf = Buffer.from('3003040500', 'hex');
    const r = new DerReader(buf, 'TEST_MALFORMED');
    expectPolyprotoError(() => r.children(r.read(0, buf.length, 'f'), 'child'), 'TEST_MALFORMED', 'child');
  });

  it.each([
    [1n, '020101'],
    [128n, '02020080'],
    [65535n, '020300ffff'],
  ])('encodes INTEGER %s minimally', (v, h) => {
    expect(encodeUnsignedInteger(v).toString('hex')).toBe(h);
  });
});

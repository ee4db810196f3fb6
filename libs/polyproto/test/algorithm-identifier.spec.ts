import { AsnConvert } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier } from '@peculiar/asn1-x509';
import { algorithmIdentifierOid, parseDottedOid } from '@p2/polyproto';
import { expectPolyprotoError } from './fixtures/expect-error';

const h = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));

describe('algorithmIdentifierOid', () => {
  it.each([
    ['Ed25519 without parameters', '3005 0603 2b6570', '1.3.101.112'],
    ['PBES2 with NULL parameters', '300d 0609 2a864886f70d01050d 0500', '1.2.840.113549.1.5.13'],
    ['AES-256-GCM (arc 2, multi-octet second arc)', '300b 0609 60864801650304012e', '2.16.840.1.101.3.4.1.46'],
    ['first arc 2 with a large second arc', '3004 0602 8837', '2.999'],
  ])('%s (known answer)', (_, hex, oid) => {
    expect(algorithmIdentifierOid(h(hex))).toBe(oid);
  });

  it.each(['1.2.840.113549.1.5.13', '2.16.840.1.101.3.4.1.2', '1.3.6.1.4.1.311.21.20', '0.9.2342.19200300.100.1.1', '2.25.329800735698586629295641978511506172918'])(
    'agrees with @peculiar/asn1-x509 on %s',
    (oid) => {
      const der = new Uint8Array(AsnConvert.serialize(new AlgorithmIdentifier({ algorithm: oid })));
      expect(algorithmIdentifierOid(der)).toBe(oid);
    },
  );

  it.each([
    ['empty', ''],
    ['not a SEQUENCE', '0603 2b6570'],
    ['empty SEQUENCE', '3000'],
    ['first element not an OID', '3003 020101'],
    ['empty OID', '3002 0600'],
    ['unterminated subidentifier', '3004 0602 2b85'],
    ['non-minimal subidentifier', '3005 0603 2b8001'],
    ['three elements', '3009 0603 2b6570 0500 0500'],
    ['trailing bytes', '3005 0603 2b6570 00'],
    ['length past the end', '3009 0603 2b6570'],
  ])('refuses %s', (_, hex) => {
    expectPolyprotoError(() => algorithmIdentifierOid(h(hex)), 'ALGORITHM_IDENTIFIER_INVALID');
  });
});

describe('parseDottedOid', () => {
  it.each(['1.2.840.113549.1.5.13', '2.999.1', '0.0'])('accepts %s', (oid) => {
    expect(parseDottedOid(oid)).toBe(oid);
  });

  it.each(['', '1', '3.1', '1.40', '1.02', '1..2', '1.2.', ' 1.2', 'a.b', `1.${'2'.repeat(300)}`])('refuses %j', (oid) => {
    expectPolyprotoError(() => parseDottedOid(oid), 'ALGORITHM_IDENTIFIER_INVALID');
  });
});

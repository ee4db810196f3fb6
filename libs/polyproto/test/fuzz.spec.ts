/**
 * Robustness: thousands of random mutations of a valid CSR and a valid certificate (bit flips,
 * truncations, length-byte changes, insertions, deletions, PEM text edits). Each call either
 * succeeds — and then an independent verifier confirms the input is still genuinely signed — or
 * throws a PolyprotoError. Nothing else may be thrown, and nothing may hang.
 */
import { X509Certificate as NodeX509, createPublicKey } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CertificationRequest } from '@peculiar/asn1-csr';
import { ed25519 } from '@noble/curves/ed25519';
import {
  decodePemOrDer,
  parseFederationId,
  PolyprotoError,
  readIdCert,
  readIdCsr,
  spkiDerFromRawEd25519,
  validateSessionId,
  verifyCacheableIdCert,
} from '@p2/polyproto';
import { makeCert } from './fixtures/cert-factory';
import { extReqAttr, ext, kuAttr, bcAttr, makeCsr, OID, pem, KU } from './fixtures/csr-factory';
import { seq } from './fixtures/der';
import { prng } from './fixtures/prng';
import { randomKey } from './fixtures/keys';

const ITERATIONS = 3000;

/** Offsets of every length octet in a DER tree (walked independently of the library). */
function lengthOffsets(der: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (start: number, end: number): void => {
    let pos = start;
    while (pos + 2 <= end) {
      const tag = der[pos];
      out.push(pos + 1);
      let len = der[pos + 1];
      let hdr = 2;
      if (len & 0x80) {
        const n = len & 0x7f;
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + der[pos + 2 + i];
        hdr += n;
      }
      const contentStart = pos + hdr;
      if (tag & 0x20) walk(contentStart, contentStart + len);
      pos = contentStart + len;
    }
  };
  walk(0, der.length);
  return out;
}

type Mutator = (src: Buffer) => Buffer;

function mutators(seed: number, lengthPositions: number[]): { name: string; apply: Mutator }[] {
  const r = prng(seed);
  const lengthValues = [0x00, 0x01, 0x02, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x89, 0xff];
  return [
    {
      name: 'bit flips',
      apply: (src) => {
        const b = Buffer.from(src);
        for (let k = 1 + r.int(3); k > 0; k--) b[r.int(b.length)] ^= 1 << r.int(8);
        return b;
      },
    },
    { name: 'truncation', apply: (src) => src.subarray(0, r.int(src.length)) },
    {
      name: 'length byte',
      apply: (src) => {
        const b = Buffer.from(src);
        const at = r.pick(lengthPositions);
        const choice = r.int(3);
        b[at] = choice === 0 ? r.pick(lengthValues) : choice === 1 ? (b[at] + (r.int(2) ? 1 : 255)) & 0xff : r.int(256);
        return b;
      },
    },
    {
      name: 'insertion',
      apply: (src) => {
        const at = r.int(src.length + 1);
        const extra = Buffer.from(Array.from({ length: 1 + r.int(4) }, () => r.int(256)));
        return Buffer.concat([src.subarray(0, at), extra, src.subarray(at)]);
      },
    },
    {
      name: 'deletion',
      apply: (src) => {
        const at = r.int(src.length);
        return Buffer.concat([src.subarray(0, at), src.subarray(at + 1 + r.int(4))]);
      },
    },
    {
      name: 'slice duplication',
      apply: (src) => {
        const a = r.int(src.length);
        const b = Math.min(src.length, a + 1 + r.int(16));
        return Buffer.concat([src.subarray(0, b), src.subarray(a, b), src.subarray(b)]);
      },
    },
  ];
}

function pemEdit(seed: number): (text: string) => string {
  const r = prng(seed);
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-\n \r\t!_';
  return (text) => {
    const at = r.int(text.length);
    switch (r.int(3)) {
      case 0:
        return `${text.slice(0, at)}${r.pick([...chars])}${text.slice(at + 1)}`;
      case 1:
        return `${text.slice(0, at)}${text.slice(at + 1 + r.int(8))}`;
      default:
        return `${text.slice(0, at)}${r.pick([...chars])}${text.slice(at)}`;
    }
  };
}

interface Tally {
  refused: number;
  accepted: number;
  foreign: string[];
}

function attempt(t: Tally, run: () => void): void {
  try {
    run();
    t.accepted++;
  } catch (e) {
    if (e instanceof PolyprotoError) t.refused++;
    else if (t.foreign.length < 5) t.foreign.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    else t.foreign.push('…');
  }
}

const csrPolicy = { domain: 'example.com', actorLocalName: 'alice' };

/** Independent acceptance check: the DER is a CSR whose signature noble (strict) accepts. */
function csrGenuinelySigned(der: Uint8Array): boolean {
  const parsed = AsnConvert.parse(der, CertificationRequest);
  const info = Buffer.from(AsnConvert.serialize(parsed.certificationRequestInfo));
  const key = new Uint8Array(parsed.certificationRequestInfo.subjectPKInfo.subjectPublicKey);
  return ed25519.verify(new Uint8Array(parsed.signature), info, key, { zip215: false });
}

describe('fuzz: mutated inputs only ever yield PolyprotoError', () => {
  it(`${ITERATIONS} mutations of a valid CSR (raw attributes and extensionRequest)`, () => {
    const seeds = [
      makeCsr(),
      makeCsr({ attributes: [kuAttr(), bcAttr(), extReqAttr(ext(OID.keyUsage, KU.digitalSignatureStd), ext(OID.basicConstraints, seq()))] }),
    ];
    const tally: Tally = { refused: 0, accepted: 0, foreign: [] };
    for (const [s, original] of seeds.entries()) {
      expect(() => readIdCsr(original, csrPolicy)).not.toThrow();
      const ms = mutators(0xc5a0 + s, lengthOffsets(original));
      const edit = pemEdit(0xbeef + s);
      const text = pem(original);
      for (let i = 0; i < ITERATIONS / seeds.length; i++) {
        if (i % 10 === 9) {
          attempt(tally, () => readIdCsr(edit(text), csrPolicy));
          continue;
        }
        const mutated = ms[i % ms.length].apply(original);
        attempt(tally, () => {
          const csr = readIdCsr(mutated, csrPolicy);
          // Accepted: it must really be a correctly signed CSR (independent parser + noble).
          expect(csrGenuinelySigned(csr.der)).toBe(true);
        });
      }
    }
    expect(tally.foreign).toEqual([]);
    expect(tally.refused + tally.accepted).toBe(ITERATIONS);
    expect(tally.refused).toBeGreaterThan(ITERATIONS * 0.9);
  });

  it(`${ITERATIONS} mutations of a valid actor certificate`, () => {
    const rootKey = randomKey();
    const rootSpki = createPublicKey({ key: Buffer.from(spkiDerFromRawEd25519(rootKey.publicKey)), format: 'der', type: 'spki' });
    const original = makeCert({ issuerKey: rootKey }).der;
    const opts = { target: 'actor' as const, issuerPublicKey: rootKey.publicKey, at: new Date('2025-01-15T00:00:00Z') };
    expect(() => readIdCert(original, opts)).not.toThrow();
    const ms = mutators(0xce27, lengthOffsets(original));
    const edit = pemEdit(0xfeed);
    const text = pem(original, 'CERTIFICATE');
    const tally: Tally = { refused: 0, accepted: 0, foreign: [] };
    for (let i = 0; i < ITERATIONS; i++) {
      if (i % 10 === 9) {
        attempt(tally, () => readIdCert(edit(text), opts));
        continue;
      }
      const mutated = ms[i % ms.length].apply(original);
      attempt(tally, () => {
        const cert = readIdCert(mutated, opts);
        // Accepted: Node's own X.509 stack must agree that the root signed it.
        expect(new NodeX509(Buffer.from(cert.der)).verify(rootSpki)).toBe(true);
      });
      attempt({ refused: 0, accepted: 0, foreign: tally.foreign }, () => readIdCert(mutated, { target: 'home-server' }));
      if (verifyCacheableIdCert({ idCertPem: mutated.toString('latin1'), cacheNotValidBefore: 1, cacheNotValidAfter: 2, cacheSignature: '00'.repeat(64) }, rootKey.publicKey)) {
        tally.foreign.push('verifyCacheableIdCert accepted garbage');
      }
    }
    expect(tally.foreign).toEqual([]);
    expect(tally.refused + tally.accepted).toBe(ITERATIONS);
    expect(tally.refused).toBeGreaterThan(ITERATIONS * 0.9);
  });

  it('random byte strings and random text of every small length', () => {
    const r = prng(0x7e57);
    const tally: Tally = { refused: 0, accepted: 0, foreign: [] };
    for (let i = 0; i < 2000; i++) {
      const bytes = Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256)));
      if (i % 2) bytes[0] = 0x30;
      const str = bytes.toString('latin1');
      attempt(tally, () => readIdCsr(bytes, csrPolicy));
      attempt(tally, () => readIdCert(bytes, { target: 'actor' }));
      attempt(tally, () => readIdCsr(str, csrPolicy));
      attempt(tally, () => decodePemOrDer(`-----BEGIN CERTIFICATE-----\n${bytes.toString('base64')}\n-----END CERTIFICATE-----`, 'CERTIFICATE'));
      attempt(tally, () => parseFederationId(str));
      attempt(tally, () => validateSessionId(str));
    }
    expect(tally.foreign).toEqual([]);
  });

  it('hostile length octets are refused quickly (no huge allocations, no long loops)', () => {
    const hostile = [
      Buffer.from('3084ffffffff', 'hex'),
      Buffer.from('3083ffffff30', 'hex'),
      Buffer.from('3080300000', 'hex'),
      Buffer.from('30820000', 'hex'),
      Buffer.concat([Buffer.from('3082ffff', 'hex'), Buffer.alloc(100)]),
      Buffer.concat([Buffer.from('30', 'hex'), Buffer.from('8f', 'hex'), Buffer.alloc(20, 0xff)]),
      Buffer.concat(Array.from({ length: 5000 }, () => Buffer.from('3080', 'hex'))),
    ];
    const start = Date.now();
    for (const h of hostile) {
      expect(() => readIdCsr(h, csrPolicy)).toThrow(PolyprotoError);
      expect(() => readIdCert(h, { target: 'actor' })).toThrow(PolyprotoError);
    }
    expect(Date.now() - start).toBeLessThan(1000);
  });
});

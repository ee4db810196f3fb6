/**
 * Functions that take untrusted input throw only PolyprotoError, whatever the value's type.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  actorCertValidity,
  algorithmIdentifierOid,
  buildHomeServerSubject,
  buildIdCsr,
  cacheSignaturePayload,
  checkActorCertAgainstRoot,
  createHomeServerRootCert,
  decodePemOrDer,
  ed25519SignerFromPrivateKey,
  ed25519VerifyStrict,
  issueActorIdCert,
  normalizeDomain,
  normalizeLocalName,
  parseFederationId,
  PolyprotoError,
  POLYPROTO_ERROR_CODES,
  rawEd25519PublicKey,
  readIdCert,
  readIdCertSerial,
  readIdCsr,
  signCacheableIdCert,
  spkiDerFromRawEd25519,
  toPem,
  parseDottedOid,
  validateSessionId,
  verifyCacheableIdCert,
} from '@p2/polyproto';
import { makeCsr } from './fixtures/csr-factory';

const WEIRD: unknown[] = [undefined, null, 0, -1, NaN, 1n, '', 'x', {}, [], [1, 2], new Date(NaN), Symbol('s'), () => 1, new Uint8Array(0), new Uint8Array([0x30]), { length: 5 }];

const CALLS: Record<string, (v: unknown) => unknown> = {
  readIdCsr: (v) => readIdCsr(v as never, { domain: 'example.com' }),
  'readIdCsr policy': (v) => readIdCsr(makeCsr(), v as never),
  'readIdCsr policy.domain': (v) => readIdCsr(makeCsr(), { domain: v as never }),
  'readIdCsr policy.actorLocalName': (v) => readIdCsr(makeCsr(), { domain: 'example.com', actorLocalName: (v === undefined ? 7 : v) as never }),
  readIdCert: (v) => readIdCert(v as never, { target: 'actor' }),
  'readIdCert opts': (v) => readIdCert(makeCsr(), v as never),
  readIdCertSerial: (v) => readIdCertSerial(v as never),
  decodePemOrDer: (v) => decodePemOrDer(v as never, 'CERTIFICATE'),
  toPem: (v) => toPem(v as never, 'CERTIFICATE'),
  parseFederationId: (v) => parseFederationId(v as never),
  normalizeLocalName: (v) => normalizeLocalName(v as never),
  normalizeDomain: (v) => normalizeDomain(v as never),
  validateSessionId: (v) => validateSessionId(v as never),
  issueActorIdCert: (v) => issueActorIdCert(v as never),
  'issueActorIdCert csr': (v) => issueActorIdCert({ csr: v as never, issuerSubjectDer: new Uint8Array(0), serial: 1n, notBefore: new Date(), notAfter: new Date(), signer: { publicKey: new Uint8Array(32), sign: () => new Uint8Array(64) } }),
  createHomeServerRootCert: (v) => createHomeServerRootCert(v as never),
  actorCertValidity: (v) => actorCertValidity(v as never),
  buildHomeServerSubject: (v) => buildHomeServerSubject(v as never),
  buildIdCsr: (v) => buildIdCsr(v as never),
  cacheSignaturePayload: (v) => cacheSignaturePayload(v as never),
  signCacheableIdCert: (v) => signCacheableIdCert(v as never),
  spkiDerFromRawEd25519: (v) => spkiDerFromRawEd25519(v as never),
  ed25519SignerFromPrivateKey: (v) => ed25519SignerFromPrivateKey(v as never),
  rawEd25519PublicKey: (v) => rawEd25519PublicKey(v as never),
  checkActorCertAgainstRoot: (v) => checkActorCertAgainstRoot(v as never, v as never),
  algorithmIdentifierOid: (v) => algorithmIdentifierOid(v as never),
  parseDottedOid: (v) => parseDottedOid(v as never),
};

describe('only PolyprotoError escapes', () => {
  it.each(Object.keys(CALLS))('%s', (name) => {
    for (const v of WEIRD) {
      try {
        CALLS[name](v);
      } catch (e) {
        if (!(e instanceof PolyprotoError)) throw new Error(`${name}(${String(typeof v === 'symbol' ? 'symbol' : v)}) threw ${String(e)}`);
      }
    }
  });

  it('verifiers return false instead of throwing', () => {
    for (const v of WEIRD) {
      expect(ed25519VerifyStrict(v as never, v as never, v as never)).toBe(false);
      expect(verifyCacheableIdCert(v as never, v as never)).toBe(false);
    }
  });
});

describe('POLYPROTO_ERROR_CODES', () => {
  it('lists exactly the codes that appear in the sources', () => {
    const dir = `${__dirname}/../src`;
    const found = new Set<string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && n !== 'errors.ts')) {
      for (const m of readFileSync(`${dir}/${f}`, 'utf8').matchAll(/'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)) found.add(m[1]);
    }
    expect([...found].sort()).toEqual([...POLYPROTO_ERROR_CODES].sort());
  });
});

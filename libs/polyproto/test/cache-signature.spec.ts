import { createPublicKey, verify } from 'node:crypto';
import {
  cacheSignaturePayload,
  ed25519SignerFromPrivateKey,
  signCacheableIdCert,
  spkiDerFromRawEd25519,
  verifyCacheableIdCert,
} from '@p2/polyproto';
import { makeCert } from './fixtures/cert-factory';
import { pem } from './fixtures/csr-factory';
import { int } from './fixtures/der';
import { expectPolyprotoError } from './fixtures/expect-error';
import { randomKey } from './fixtures/keys';

const serverKey = randomKey();
const signer = ed25519SignerFromPrivateKey(serverKey.privateKey);
const certPem = pem(makeCert({ serial: int(123456789n) }).der, 'CERTIFICATE');

describe('cache signatures', () => {
  it('the payload is decimal serial + cacheNotValidBefore + cacheNotValidAfter + invalidatedAt, no separators', () => {
    expect(cacheSignaturePayload({ serial: 123456789n, cacheNotValidBefore: 1700000000, cacheNotValidAfter: 1700003600 })).toBe('12345678917000000001700003600');
    expect(cacheSignaturePayload({ serial: 1n, cacheNotValidBefore: 2, cacheNotValidAfter: 3, invalidatedAt: 4 })).toBe('1234');
    expect(cacheSignaturePayload({ serial: 2n ** 64n, cacheNotValidBefore: 0, cacheNotValidAfter: 0 })).toBe('1844674407370955161600');
  });

  it('signs with the server key: 128 lowercase hex characters that node verifies over the payload', () => {
    const obj = signCacheableIdCert({ idCertPem: certPem, serial: 123456789n, cacheNotValidBefore: 1700000000, cacheNotValidAfter: 1700003600, signer });
    expect(Object.keys(obj).sort()).toEqual(['cacheNotValidAfter', 'cacheNotValidBefore', 'cacheSignature', 'idCertPem']);
    expect(obj.cacheSignature).toMatch(/^[0-9a-f]{128}$/);
    const key = createPublicKey({ key: Buffer.from(spkiDerFromRawEd25519(serverKey.publicKey)), format: 'der', type: 'spki' });
    expect(verify(null, Buffer.from('12345678917000000001700003600'), key, Buffer.from(obj.cacheSignature, 'hex'))).toBe(true);
    expect(verifyCacheableIdCert(obj, serverKey.publicKey)).toBe(true);
    expect(verifyCacheableIdCert({ ...obj, serial: 123456789n }, serverKey.publicKey)).toBe(true);
  });

  it('includes invalidatedAt when given, and verification depends on it', () => {
    const obj = signCacheableIdCert({ idCertPem: certPem, serial: 123456789n, cacheNotValidBefore: 10, cacheNotValidAfter: 20, invalidatedAt: 15, signer });
    expect(obj.invalidatedAt).toBe(15);
    expect(verifyCacheableIdCert(obj, serverKey.publicKey)).toBe(true);
    expect(verifyCacheableIdCert({ ...obj, invalidatedAt: undefined }, serverKey.publicKey)).toBe(false);
    expect(verifyCacheableIdCert({ ...obj, invalidatedAt: 16 }, serverKey.publicKey)).toBe(false);
  });

  it('verification fails for altered fields, another key, another serial, or garbage — without throwing', () => {
    const obj = signCacheableIdCert({ idCertPem: certPem, serial: 123456789n, cacheNotValidBefore: 10, cacheNotValidAfter: 20, signer });
    expect(verifyCacheableIdCert({ ...obj, cacheNotValidAfter: 21 }, serverKey.publicKey)).toBe(false);
    expect(verifyCacheableIdCert(obj, randomKey().publicKey)).toBe(false);
    expect(verifyCacheableIdCert({ ...obj, serial: 1n }, serverKey.publicKey)).toBe(false);
    expect(verifyCacheableIdCert({ ...obj, idCertPem: pem(makeCert({ serial: int(5) }).der, 'CERTIFICATE') }, serverKey.publicKey)).toBe(false);
    expect(verifyCacheableIdCert({ ...obj, cacheSignature: 'zz' }, serverKey.publicKey)).toBe(false);
    expect(verifyCacheableIdCert({ ...obj, idCertPem: 'garbage' }, serverKey.publicKey)).toBe(false);
    expect(verifyCacheableIdCert(null as never, serverKey.publicKey)).toBe(false);
  });

  it('refuses to sign for a serial that is not the certificate’s, or bad numbers', () => {
    const base = { idCertPem: certPem, serial: 123456789n, cacheNotValidBefore: 10, cacheNotValidAfter: 20, signer };
    expectPolyprotoError(() => signCacheableIdCert({ ...base, serial: 1n }), 'CACHE_ARGUMENT_INVALID', 'serial');
    expectPolyprotoError(() => signCacheableIdCert({ ...base, cacheNotValidBefore: 1.5 }), 'CACHE_ARGUMENT_INVALID', 'cacheNotValidBefore');
    expectPolyprotoError(() => signCacheableIdCert({ ...base, cacheNotValidAfter: -1 }), 'CACHE_ARGUMENT_INVALID', 'cacheNotValidAfter');
    expectPolyprotoError(() => signCacheableIdCert({ ...base, invalidatedAt: Number.NaN }), 'CACHE_ARGUMENT_INVALID', 'invalidatedAt');
    expectPolyprotoError(() => signCacheableIdCert({ ...base, idCertPem: 'nope' }), 'CERT_MALFORMED');
  });
});

import { createPublicKey, randomBytes, verify } from 'node:crypto';
import { ed25519, ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519';
import { ed25519PrivateKeyFromSeed, ed25519SignerFromPrivateKey, ed25519VerifyStrict, rawEd25519PublicKey, spkiDerFromRawEd25519 } from '@p2/polyproto';
import { isCanonicalPointEncoding, isCanonicalScalar, SMALL_ORDER_ENCODINGS } from '../src/ed25519-strict';
import { expectPolyprotoError } from './fixtures/expect-error';
import { randomKey } from './fixtures/keys';
import { prng } from './fixtures/prng';

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const le32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
const fromLe = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).reverse().toString('hex')}`);
const nodeVerifyRaw = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => {
  try {
    return verify(null, msg, createPublicKey({ key: Buffer.concat([Buffer.from(spkiDerFromRawEd25519(pub))]), format: 'der', type: 'spki' }), sig);
  } catch {
    return false;
  }
};
const nobleStrict = (pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean => {
  try {
    return ed25519.verify(sig, msg, pub, { zip215: false });
  } catch {
    return false;
  }
};

describe('ed25519 small-order blocklist', () => {
  it('equals the canonical encodings of noble’s torsion subgroup, plus the two x = 0 points with the sign bit set', () => {
    const torsion = ED25519_TORSION_SUBGROUP.map((h) => h.toLowerCase());
    const points = torsion.map((h) => ed25519.Point.fromHex(h));
    for (const pt of points) expect(pt.isSmallOrder()).toBe(true);
    const canonical = points.map((pt) => Buffer.from(pt.toBytes()).toString('hex'));
    const xZeroSigned = points
      .filter((pt) => pt.x === 0n)
      .map((pt) => {
        const b = Buffer.from(pt.toBytes());
        b[31] |= 0x80;
        return b.toString('hex');
      });
    expect(new Set(SMALL_ORDER_ENCODINGS)).toEqual(new Set([...canonical, ...xZeroSigned]));
    expect(SMALL_ORDER_ENCODINGS).toHaveLength(10);
  });

  it('every listed encoding is refused as a public key, also by noble strict', () => {
    const key = randomKey();
    const msg = Buffer.from('m');
    for (const h of SMALL_ORDER_ENCODINGS) {
      const pub = Buffer.from(h, 'hex');
      expect(ed25519VerifyStrict(pub, msg, key.sign(msg))).toBe(false);
      expect(nobleStrict(pub, msg, key.sign(msg))).toBe(false);
    }
  });
});

describe('ed25519VerifyStrict', () => {
  it('refuses the small-order forgery that node:crypto accepts (A = identity, R = identity, S = 0)', () => {
    const identity = Buffer.from(SMALL_ORDER_ENCODINGS[0], 'hex');
    const forged = Buffer.concat([identity, Buffer.alloc(32)]);
    for (const msg of [Buffer.from('any message'), randomBytes(100)]) {
      expect(nodeVerifyRaw(identity, msg, forged)).toBe(true);
      expect(ed25519VerifyStrict(identity, msg, forged)).toBe(false);
      expect(nobleStrict(identity, msg, forged)).toBe(false);
    }
  });

  it('accepts genuine signatures (RFC 8032 test vector 1 via ed25519PrivateKeyFromSeed)', () => {
    const key = ed25519PrivateKeyFromSeed(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'));
    const signer = ed25519SignerFromPrivateKey(key);
    expect(Buffer.from(signer.publicKey).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(Buffer.from(rawEd25519PublicKey(key)).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const sig = signer.sign(Buffer.alloc(0));
    expect(Buffer.from(sig).toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
    expect(ed25519VerifyStrict(signer.publicKey, Buffer.alloc(0), sig)).toBe(true);
  });

  it('refuses S + L (non-canonical S) that differs from a valid S only by the group order', () => {
    const key = randomKey();
    const msg = Buffer.from('malleable');
    const sig = key.sign(msg);
    const s = fromLe(sig.subarray(32));
    const malleated = Buffer.concat([sig.subarray(0, 32), le32(s + L)]);
    expect(isCanonicalScalar(malleated, 32)).toBe(false);
    expect(ed25519VerifyStrict(key.publicKey, msg, malleated)).toBe(false);
    expect(nobleStrict(key.publicKey, msg, malleated)).toBe(false);
  });

  it('detects non-canonical point encodings (y ≥ p) exactly at the boundary', () => {
    expect(isCanonicalPointEncoding(le32(P - 1n))).toBe(true);
    expect(isCanonicalPointEncoding(le32(P))).toBe(false);
    expect(isCanonicalPointEncoding(le32(P + 1n))).toBe(false);
    expect(isCanonicalPointEncoding(le32(2n ** 255n - 1n))).toBe(false);
    const signed = le32(P);
    signed[31] |= 0x80;
    expect(isCanonicalPointEncoding(signed)).toBe(false);
  });

  it('refuses a non-canonical R encoding and a small-order R', () => {
    const key = randomKey();
    const msg = Buffer.from('r');
    const sig = key.sign(msg);
    expect(ed25519VerifyStrict(key.publicKey, msg, Buffer.concat([le32(P + 1n), sig.subarray(32)]))).toBe(false);
    for (const h of SMALL_ORDER_ENCODINGS) {
      expect(ed25519VerifyStrict(key.publicKey, msg, Buffer.concat([Buffer.from(h, 'hex'), sig.subarray(32)]))).toBe(false);
    }
  });

  it('is stricter than noble on one documented point: a small-order R with a valid equation (R = identity, S = k·a)', () => {
    const seed = Buffer.alloc(32, 7);
    const { scalar, pointBytes } = ed25519.utils.getExtendedPublicKey(seed);
    const msg = Buffer.from('small-order R');
    const R = Buffer.from(SMALL_ORDER_ENCODINGS[0], 'hex');
    const h = ed25519.CURVE.hash(Buffer.concat([R, Buffer.from(pointBytes), msg]));
    const k = fromLe(h) % L;
    const sig = Buffer.concat([R, le32((k * scalar) % L)]);
    expect(nobleStrict(pointBytes, msg, sig)).toBe(true);
    expect(nodeVerifyRaw(pointBytes, msg, sig)).toBe(true);
    expect(ed25519VerifyStrict(pointBytes, msg, sig)).toBe(false);
  });

  it('refuses wrong lengths and non-bytes without throwing', () => {
    const key = randomKey();
    const msg = Buffer.from('x');
    const sig = key.sign(msg);
    expect(ed25519VerifyStrict(key.publicKey.subarray(0, 31), msg, sig)).toBe(false);
    expect(ed25519VerifyStrict(key.publicKey, msg, sig.subarray(0, 63))).toBe(false);
    expect(ed25519VerifyStrict(key.publicKey, msg, Buffer.concat([sig, Buffer.of(0)]))).toBe(false);
    expect(ed25519VerifyStrict(undefined as unknown as Uint8Array, msg, sig)).toBe(false);
    expect(ed25519VerifyStrict(key.publicKey, 'x' as unknown as Uint8Array, sig)).toBe(false);
  });

  it('agrees with noble ed25519.verify(zip215: false) on 600 random valid and invalid cases', () => {
    const r = prng(0x5eed);
    const rnd = r.next;
    const keys = Array.from({ length: 20 }, () => randomKey());
    let accepted = 0;
    for (let i = 0; i < 600; i++) {
      const key = keys[i % keys.length];
      const msg = Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 64) }, () => Math.floor(rnd() * 256)));
      let pub: Buffer = key.publicKey;
      let m: Buffer = msg;
      let sig = key.sign(msg);
      switch (i % 8) {
        case 0:
          break; // valid
        case 1:
          sig = Buffer.from(sig);
          sig[Math.floor(rnd() * 64)] ^= 1 << Math.floor(rnd() * 8);
          break;
        case 2:
          m = Buffer.concat([msg, Buffer.of(1)]);
          break;
        case 3:
          pub = keys[(i + 1) % keys.length].publicKey;
          break;
        case 4:
          sig = Buffer.concat([sig.subarray(0, 32), le32(fromLe(sig.subarray(32)) + L)]);
          break;
        case 5:
          pub = Buffer.from(SMALL_ORDER_ENCODINGS[Math.floor(rnd() * 8)], 'hex');
          break;
        case 6:
          pub = Buffer.from(pub);
          pub[Math.floor(rnd() * 32)] ^= 1 << Math.floor(rnd() * 8);
          break;
        case 7:
          sig = Buffer.from(Array.from({ length: 64 }, () => Math.floor(rnd() * 256)));
          break;
      }
      const ours = ed25519VerifyStrict(pub, m, sig);
      expect({ i, ours }).toEqual({ i, ours: nobleStrict(pub, m, sig) });
      if (ours) accepted++;
    }
    expect(accepted).toBeGreaterThanOrEqual(75);
  });
});

describe('Ed25519 key helpers', () => {
  it('spkiDerFromRawEd25519 builds the RFC 8410 SPKI that node imports', () => {
    const key = randomKey();
    const spki = spkiDerFromRawEd25519(key.publicKey);
    expect(Buffer.from(spki).toString('hex')).toBe(`302a300506032b6570032100${key.publicKey.toString('hex')}`);
    expect(createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' }).asymmetricKeyType).toBe('ed25519');
  });

  it('refuses bad key inputs with PolyprotoError', () => {
    expectPolyprotoError(() => spkiDerFromRawEd25519(Buffer.alloc(31)), 'KEY_INVALID', 'publicKey');
    expectPolyprotoError(() => ed25519PrivateKeyFromSeed(Buffer.alloc(31)), 'KEY_INVALID', 'seed');
    expectPolyprotoError(() => ed25519SignerFromPrivateKey(createPublicKey(randomKey().privateKey)), 'KEY_INVALID', 'key');
    expectPolyprotoError(() => ed25519SignerFromPrivateKey(undefined as never), 'KEY_INVALID', 'key');
  });
});

import { encodeBasicConstraintsLibrary, encodeKeyUsageLibrary, noKeyUsages } from './capabilities';
import { assembleCertificate, encodeExtensions, type IssuedCert } from './certificate-encoding';
import { buildHomeServerSubject } from './distinguished-name';
import type { Ed25519Signer } from './ed25519-keys';
import { ed25519PublicKeyProblem } from './ed25519-strict';
import { fail } from './errors';
import { checkedValidity } from './validity';
import { assertIssuableSerial } from './serial-number';

const ROOT_KEY_USAGE = encodeKeyUsageLibrary({ ...noKeyUsages(), digitalSignature: true, keyCertSign: true });

/**
 * The home server's self-signed root ID-Cert (docs/protocol.md#root-cert): subject = issuer = DCs of `domain`
 * (TLD first, IA5String, no CN); basicConstraints `{cA TRUE}` without pathLen (`30 03 01 01 FF`)
 * and keyUsage digitalSignature+keyCertSign in the library layout (`03 02 00 84`), both critical.
 * This encoding verifies in polyproto-rs and decodes as a CA in OpenSSL, Node and
 * @peculiar/x509.
 *
 * `pathLenZero` (default false) is the switch for strict spec readers that want pathLen 0
 * (docs/protocol.md#root-pathlen):
 * basicConstraints becomes `30 06 01 01 FF 02 01 00`. The reference library would re-encode the
 * INTEGER as 8 octets and so fail to verify this root; the 8-octet form itself is refused by
 * OpenSSL 3 (non-minimal INTEGER), which is why the minimal form is used.
 */
export function createHomeServerRootCert(args: {
  domain: string;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  signer: Ed25519Signer;
  pathLenZero?: boolean;
}): IssuedCert & { subjectDer: Uint8Array } {
  const a = args ?? ({} as never);
  const { signer, serial } = a;
  if (!signer || typeof signer.sign !== 'function' || ed25519PublicKeyProblem(signer.publicKey)) {
    fail('ISSUE_ARGUMENT_INVALID', 'signer', 'an Ed25519Signer with a strict public key is required');
  }
  assertIssuableSerial(serial);
  const { notBefore, notAfter } = checkedValidity(a.notBefore, a.notAfter);
  const subjectDer = buildHomeServerSubject(a.domain);
  const issued = assembleCertificate({
    serial,
    issuerDer: subjectDer,
    subjectDer,
    notBefore,
    notAfter,
    publicKey: signer.publicKey,
    extensions: encodeExtensions(encodeBasicConstraintsLibrary(true, a.pathLenZero ? 0 : undefined), ROOT_KEY_USAGE),
    signer,
  });
  return Object.freeze({ ...issued, subjectDer });
}

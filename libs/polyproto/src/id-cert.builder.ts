import { checkActorIssuancePolicy, encodeBasicConstraintsLibrary, encodeKeyUsageLibrary, noKeyUsages, type CapabilityFields } from './capabilities';
import { assembleCertificate, encodeExtensions, type IssuedCert } from './certificate-encoding';
import { DerReader, TAG } from './der';
import { checkHomeServerName, readName } from './distinguished-name';
import type { Ed25519Signer } from './ed25519-keys';
import { ed25519PublicKeyProblem } from './ed25519-strict';
import { fail, quote } from './errors';
import type { IdCsr } from './id-csr.reader';
import { assertIssuableSerial } from './serial-number';
import { checkedValidity } from './validity';

const CODE = 'ISSUE_ARGUMENT_INVALID';
const FIELDS: CapabilityFields = { code: CODE, keyUsage: 'csr.capabilities', basicConstraints: 'csr.capabilities' };

/**
 * The two extension blocks an actor certificate can carry (docs/protocol.md#actor-cert-profile):
 * `30 03 01 01 00` + `03 02 00 80` / `03 02 01 40`.
 */
const ACTOR_EXTENSIONS = {
  digitalSignature: encodeExtensions(encodeBasicConstraintsLibrary(false), encodeKeyUsageLibrary({ ...noKeyUsages(), digitalSignature: true })),
  contentCommitment: encodeExtensions(encodeBasicConstraintsLibrary(false), encodeKeyUsageLibrary({ ...noKeyUsages(), contentCommitment: true })),
};

/**
 * Issues an actor ID-Cert from a CSR accepted by {@link readIdCsr}: v3, the given serial and
 * validity (floored to seconds), issuer = `issuerSubjectDer` bytes (the root's subject), subject =
 * the CSR's subject bytes, the CSR's key, and exactly basicConstraints `30 03 01 01 00` then
 * keyUsage `03 02 00 80` (digitalSignature) or `03 02 01 40` (contentCommitment), both critical
 * (docs/protocol.md#actor-cert-profile). The issuer's DCs must spell the actor's domain.
 * Throws `ISSUE_ARGUMENT_INVALID`, `SERIAL_INVALID` or `VALIDITY_INVALID` on bad arguments.
 */
export function issueActorIdCert(args: {
  csr: IdCsr;
  issuerSubjectDer: Uint8Array;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  signer: Ed25519Signer;
}): IssuedCert {
  const a = args ?? ({} as never);
  const { csr, issuerSubjectDer, serial, signer } = a;
  if (!csr || !(csr.subjectDer instanceof Uint8Array) || !csr.capabilities || !csr.federationId) {
    fail(CODE, 'csr', 'an IdCsr returned by readIdCsr is required');
  }
  if (ed25519PublicKeyProblem(csr.publicKey)) fail(CODE, 'csr.publicKey', 'a strict Ed25519 public key is required');
  if (!signer || typeof signer.sign !== 'function') fail(CODE, 'signer', 'an Ed25519Signer is required');
  assertIssuableSerial(serial);
  const { notBefore, notAfter } = checkedValidity(a.notBefore, a.notAfter);
  checkActorIssuancePolicy(csr.capabilities, FIELDS);
  wholeSequence(csr.subjectDer, 'csr.subjectDer');
  const issuerDomain = issuerDomainOf(issuerSubjectDer);
  if (issuerDomain !== csr.federationId.domain) {
    fail(CODE, 'issuerSubjectDer', 'the issuer DCs must equal the subject DCs', `issuer ${quote(issuerDomain)}, subject ${quote(csr.federationId.domain)}`);
  }
  return assembleCertificate({
    serial,
    issuerDer: issuerSubjectDer,
    subjectDer: csr.subjectDer,
    notBefore,
    notAfter,
    publicKey: csr.publicKey,
    extensions: csr.capabilities.digitalSignature ? ACTOR_EXTENSIONS.digitalSignature : ACTOR_EXTENSIONS.contentCommitment,
    signer,
  });
}

function wholeSequence(bytes: Uint8Array, field: string): DerReader {
  if (!(bytes instanceof Uint8Array)) fail(CODE, field, 'DER bytes are required');
  const r = new DerReader(bytes, CODE);
  const t = r.expect(0, bytes.length, TAG.SEQUENCE, field);
  if (t.end !== bytes.length) r.fail(field, 'exactly one DER Name is required');
  return r;
}

function issuerDomainOf(issuerSubjectDer: Uint8Array): string {
  const r = wholeSequence(issuerSubjectDer, 'issuerSubjectDer');
  const name = readName(r, r.read(0, issuerSubjectDer.length, 'issuerSubjectDer'), 'issuerSubjectDer', CODE);
  return checkHomeServerName(name, CODE, 'issuerSubjectDer');
}

/**
 * @p2/polyproto — pure polyproto protocol code: federation and session IDs, serial numbers,
 * ID-CSR intake, ID-Cert issuing and reading in the reference library's byte encoding, strict
 * Ed25519, cache signatures, gateway (WebSocket) messages and acknowledgements. No I/O, no clocks (callers pass `now`), no randomness except
 * {@link randomSerial}. Every refusal is a {@link PolyprotoError} with a stable `code`.
 */
export { PolyprotoError, POLYPROTO_ERROR_CODES, type PolyprotoErrorCode } from './errors';
export { parseFederationId, normalizeLocalName, normalizeDomain, type FederationId } from './federation-id';
export { validateSessionId } from './session-id';
export { randomSerial, MAX_ISSUED_SERIAL, SERIAL_LIMIT, SERIAL_DECIMAL, isSerialInRange, isCanonicalSerial } from './serial-number';
export { decodePemOrDer, toPem, type PemLabel } from './pem';
export { EARLIEST_UNIX_SECONDS, LATEST_UNIX_SECONDS, isStorableUnixSeconds } from './time';
export { type Capabilities } from './capabilities';
export { readIdCsr, type IdCsr, type CsrPolicy } from './id-csr.reader';
export { buildIdCsr, type BuildIdCsrOptions } from './id-csr.builder';
export {
  ed25519SignerFromPrivateKey,
  ed25519PrivateKeyFromSeed,
  rawEd25519PublicKey,
  spkiDerFromRawEd25519,
  type Ed25519Signer,
} from './ed25519-keys';
export { ed25519VerifyStrict } from './ed25519-strict';
export { type IssuedCert } from './certificate-encoding';
export { issueActorIdCert } from './id-cert.builder';
export { actorCertValidity, CLOCK_SKEW_SECONDS, DEFAULT_ACTOR_CERT_LIFETIME_DAYS, isWithinValidity } from './validity';
export { buildHomeServerSubject } from './distinguished-name';
export { createHomeServerRootCert } from './root-cert.builder';
export { readIdCert, readIdCertSerial, checkActorCertAgainstRoot, type IdCert, type ReadIdCertOptions } from './id-cert.reader';
export { cacheSignaturePayload, signCacheableIdCert, verifyCacheableIdCert, type CacheableIdCert } from './cache-signature';
export {
  verifyForeignRoot,
  verifyForeignActorCert,
  verifyCacheInfo,
  foreignCertStatus,
  foreignCacheUntil,
  checkValidAt,
  CACHE_WINDOW_SKEW_SECONDS,
  type ForeignCertStatus,
} from './foreign-cert.verifier';
export {
  readWellKnown,
  readHomeServerCertDocument,
  readActorCertsDocument,
  MAX_LISTED_CERTS,
  type CacheInfo,
  type HomeServerCertDocument,
  type ActorCertEntry,
} from './foreign-documents';
export { algorithmIdentifierOid, parseDottedOid, MAX_DOTTED_OID_LENGTH } from './algorithm-identifier';
export {
  GATEWAY_OPCODE,
  GATEWAY_CLOSE,
  parseClientMessage,
  gatewayCloseFor,
  type GatewayClose,
  type ClientMessage,
  type HeartbeatPayload,
} from './gateway-message';
export { ReceivedSequences, type HeartbeatOutcome } from './received-sequences';

/**
 * Object identifiers as DER content octets (what follows `06 len`), so names and extensions are
 * matched on bytes, never on printed strings (docs/protocol.md#csr-names: OpenSSL prints `…100.1.44` as `uid`).
 */
const h = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** 2.5.4.3 commonName */
export const OID_CN = h('550403');
/** 0.9.2342.19200300.100.1.25 domainComponent */
export const OID_DC = h('0992268993f22c640119');
/** 0.9.2342.19200300.100.1.1 userId (UID) — carries the federation ID */
export const OID_UID = h('0992268993f22c640101');
/** 0.9.2342.19200300.100.1.44 uniqueIdentifier — carries the session ID */
export const OID_UNIQUE_IDENTIFIER = h('0992268993f22c64012c');
/** 2.5.29.15 keyUsage */
export const OID_KEY_USAGE = h('551d0f');
/** 2.5.29.19 basicConstraints */
export const OID_BASIC_CONSTRAINTS = h('551d13');
/** 1.2.840.113549.1.9.14 PKCS#9 extensionRequest */
export const OID_EXTENSION_REQUEST = h('2a864886f70d01090e');

/** AlgorithmIdentifier { 1.3.101.112 } with parameters absent (RFC 8410). */
export const ED25519_ALGORITHM_ID = h('300506032b6570');
/** SubjectPublicKeyInfo prefix for a raw 32-byte Ed25519 key. */
export const ED25519_SPKI_PREFIX = h('302a300506032b6570032100');

/**
 * The one error type of this library. Every function that takes untrusted input throws only this
 * (never a RangeError or TypeError), so callers can map `code` to a protocol answer in one place.
 */
export class PolyprotoError extends Error {
  /** Stable SCREAMING_SNAKE identifier, e.g. `CSR_NAME_INVALID`. Never changes meaning. */
  readonly code: string;
  /** The offending field, e.g. `subject.uniqueIdentifier`, `attributes.keyUsage`, `signature`. */
  readonly field: string;
  /** The rule that was broken, as one sentence (no citation: clients read it), e.g. `CN must equal the UID local part`. */
  readonly rule: string;

  constructor(code: string, field: string, rule: string, detail?: string) {
    super(`${field}: ${rule}${detail ? ` (${detail})` : ''}`);
    this.name = 'PolyprotoError';
    this.code = code;
    this.field = field;
    this.rule = rule;
  }
}

/** Throws a {@link PolyprotoError}; typed `never` so it can end expressions. */
export function fail(code: string, field: string, rule: string, detail?: string): never {
  throw new PolyprotoError(code, field, rule, detail);
}

/**
 * Renders an untrusted value for an error message: at most 64 characters, non-printable
 * characters escaped, so a hostile input can neither flood logs nor inject control sequences.
 */
export function quote(value: string): string {
  const cut = value.length > 64 ? `${value.slice(0, 64)}...` : value;
  const escaped = cut.replace(/[^\x20-\x7e]|["\\]/g, (c) =>
    c === '"' || c === '\\' ? `\\${c}` : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `"${escaped}"`;
}

/**
 * Every code this library throws. The `CSR_*`, `CERT_*` and identifier codes refuse client input
 * (a 400 at the gateway); `ISSUE_ARGUMENT_INVALID`, `SERIAL_INVALID`, `VALIDITY_INVALID`,
 * `SIGNER_INVALID`, `KEY_INVALID`, `CAPABILITIES_UNSUPPORTED`, `CACHE_ARGUMENT_INVALID`,
 * `CSR_POLICY_INVALID`, `CSR_ARGUMENT_INVALID`, `CERT_OPTIONS_INVALID` and `PEM_ARGUMENT_INVALID`
 * mean the server itself passed something wrong. The `GATEWAY_*` codes refuse a WebSocket client's
 * message (a close code, see `gatewayCloseFor`). `FEDERATION_DOCUMENT_INVALID`,
 * `FOREIGN_ROOT_DOMAIN_MISMATCH`, `FOREIGN_CERT_NOT_LISTED`, `CACHE_SIGNATURE_INVALID` and
 * `CACHE_WINDOW_INVALID` refuse what another home server answered (docs/protocol.md#federation).
 */
export const POLYPROTO_ERROR_CODES = [
  'ACTOR_NAME_INVALID',
  'DOMAIN_INVALID',
  'FEDERATION_ID_INVALID',
  'SESSION_ID_INVALID',
  'CSR_MALFORMED',
  'CSR_VERSION_UNSUPPORTED',
  'CSR_ALGORITHM_UNSUPPORTED',
  'CSR_PUBLIC_KEY_INVALID',
  'CSR_PUBLIC_KEY_WEAK',
  'CSR_SIGNATURE_INVALID',
  'CSR_NAME_INVALID',
  'CSR_CAPABILITIES_INVALID',
  'CERT_MALFORMED',
  'CERT_VERSION_UNSUPPORTED',
  'CERT_SERIAL_INVALID',
  'CERT_ALGORITHM_UNSUPPORTED',
  'CERT_PUBLIC_KEY_INVALID',
  'CERT_PUBLIC_KEY_WEAK',
  'CERT_SIGNATURE_INVALID',
  'CERT_EXTENSIONS_INVALID',
  'CERT_NAME_INVALID',
  'CERT_CAPABILITIES_INVALID',
  'CERT_VALIDITY_INVALID',
  'CERT_NOT_VALID_AT_TIME',
  'ISSUE_ARGUMENT_INVALID',
  'SERIAL_INVALID',
  'VALIDITY_INVALID',
  'SIGNER_INVALID',
  'KEY_INVALID',
  'CAPABILITIES_UNSUPPORTED',
  'CACHE_ARGUMENT_INVALID',
  'CSR_POLICY_INVALID',
  'CSR_ARGUMENT_INVALID',
  'CERT_OPTIONS_INVALID',
  'PEM_ARGUMENT_INVALID',
  'ALGORITHM_IDENTIFIER_INVALID',
  'GATEWAY_MESSAGE_INVALID',
  'GATEWAY_OPCODE_UNKNOWN',
  'GATEWAY_SEQUENCE_INVALID',
  'FEDERATION_DOCUMENT_INVALID',
  'FOREIGN_ROOT_DOMAIN_MISMATCH',
  'FOREIGN_CERT_NOT_LISTED',
  'CACHE_SIGNATURE_INVALID',
  'CACHE_WINDOW_INVALID',
] as const;

export type PolyprotoErrorCode = (typeof POLYPROTO_ERROR_CODES)[number];

/** Stable error codes of the public API (docs/protocol.md#error-codes). The gateway maps them to HTTP once. */
export const ERROR_CODE = {
  malformedRequest: 'P2CORE_MALFORMED_REQUEST',
  invalidActorName: 'P2CORE_INVALID_ACTOR_NAME',
  invalidCsr: 'P2CORE_INVALID_CSR',
  federationIdTaken: 'P2CORE_FEDERATION_ID_TAKEN',
  /** a name of P2_ADMINS: only an operator creates it (p2ctl admins create), never POST /register */
  nameReserved: 'P2CORE_NAME_RESERVED',
  invalidCredentials: 'P2CORE_INVALID_CREDENTIALS',
  sessionIdInUse: 'P2CORE_SESSION_ID_IN_USE',
  actorNotFound: 'P2CORE_ACTOR_NOT_FOUND',
  notFound: 'P2CORE_NOT_FOUND',
  noCertAtTime: 'P2CORE_NO_CERT_AT_TIME',
  unauthorized: 'P2CORE_UNAUTHORIZED',
  sessionNotFound: 'P2CORE_SESSION_NOT_FOUND',
  sensitiveSolutionRequired: 'P2CORE_SENSITIVE_SOLUTION_REQUIRED',
  sensitiveSolutionInvalid: 'P2CORE_SENSITIVE_SOLUTION_INVALID',
  methodNotAllowed: 'P2CORE_METHOD_NOT_ALLOWED',
  requestTimeout: 'P2CORE_REQUEST_TIMEOUT',
  /** an Expect header other than 100-continue (docs/protocol.md#framework-errors) */
  expectationFailed: 'P2CORE_EXPECTATION_FAILED',
  /** CONNECT, or a transfer coding other than chunked (docs/protocol.md#framework-errors) */
  notImplemented: 'P2CORE_NOT_IMPLEMENTED',
  uriTooLong: 'P2CORE_URI_TOO_LONG',
  headersTooLarge: 'P2CORE_HEADERS_TOO_LARGE',
  payloadTooLarge: 'P2CORE_PAYLOAD_TOO_LARGE',
  unsupportedMediaType: 'P2CORE_UNSUPPORTED_MEDIA_TYPE',
  unavailable: 'P2CORE_UNAVAILABLE',
  internal: 'P2CORE_INTERNAL',
  /** the command was handled, but its reply was larger than the replies topic takes: the transport
   * sent this in its place (docs/architecture.md#oversized-replies) */
  replyTooLarge: 'P2CORE_REPLY_TOO_LARGE',
  sessionMismatch: 'P2CORE_SESSION_MISMATCH',
  notAdministrator: 'P2CORE_NOT_ADMINISTRATOR',
  unknownSerial: 'P2CORE_UNKNOWN_SERIAL',
  keyMaterialExists: 'P2CORE_KEY_MATERIAL_EXISTS',
  keyMaterialSlotsFull: 'P2CORE_KEY_MATERIAL_SLOTS_FULL',
  keyMaterialNotFound: 'P2CORE_KEY_MATERIAL_NOT_FOUND',
  malformedCert: 'P2CORE_MALFORMED_CERT',
  notFederated: 'P2CORE_NOT_FEDERATED',
  certInvalidated: 'P2CORE_CERT_INVALIDATED',
  challengeFailed: 'P2CORE_CHALLENGE_FAILED',
  duplicateInitKey: 'P2CORE_DUPLICATE_INIT_KEY',
  keyPackageLimit: 'P2CORE_KEY_PACKAGE_LIMIT',
  /** a foreign session (docs/protocol.md#foreign-sessions) on a route for this server's own actors */
  homeActorsOnly: 'P2CORE_HOME_ACTORS_ONLY',
  /** too many requests from one address or for one actor, an actor locked out after wrong passwords, or as
   * many password checks of one actor in flight as would lock it out (docs/protocol.md#rate-limits) */
  rateLimited: 'P2CORE_RATE_LIMITED',
} as const;

export type ErrorCode = (typeof ERROR_CODE)[keyof typeof ERROR_CODE];

/** The error body of every non-2xx answer (docs/protocol.md#error-body). */
export interface ErrorBody {
  readonly errcode: number;
  readonly error: string;
  readonly message: string;
  readonly command_id?: string;
}

import { ERROR_CODE, type ErrorBody } from '@p2/contracts';

/** A typed error of the public API: status + stable code + human message (docs/protocol.md#error-body).
 * Thrown anywhere in the gateway; the exception filter turns it into the body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly commandId?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The answer's body: the error body, except for the one route whose 404 is something else
   * (docs/protocol.md#key-material-404). */
  toBody(): ErrorBody | string[] {
    return {
      errcode: this.status,
      error: this.code,
      message: this.message,
      ...(this.commandId ? { command_id: this.commandId } : {}),
    };
  }
}

export const badRequest = (message: string, code: string = ERROR_CODE.malformedRequest) => new ApiError(400, code, message);

/** HTTP status of every code a certstore reply can carry: mapped once, here. */
const REPLY_STATUS: Record<string, number> = {
  [ERROR_CODE.malformedRequest]: 400,
  [ERROR_CODE.invalidActorName]: 400,
  [ERROR_CODE.invalidCsr]: 400,
  [ERROR_CODE.invalidCredentials]: 401,
  [ERROR_CODE.unauthorized]: 401,
  [ERROR_CODE.actorNotFound]: 404,
  [ERROR_CODE.notFound]: 404,
  [ERROR_CODE.sessionNotFound]: 404,
  [ERROR_CODE.federationIdTaken]: 409,
  [ERROR_CODE.nameReserved]: 403,
  [ERROR_CODE.sessionIdInUse]: 409,
  [ERROR_CODE.unavailable]: 503,
  // the certstore handled the command but could not deliver its answer: an upstream failure, not a
  // bug of this request (docs/architecture.md#oversized-replies)
  [ERROR_CODE.replyTooLarge]: 502,
  [ERROR_CODE.sessionMismatch]: 403,
  [ERROR_CODE.notAdministrator]: 403,
  [ERROR_CODE.malformedCert]: 400,
  [ERROR_CODE.challengeFailed]: 401,
  [ERROR_CODE.certInvalidated]: 403,
  [ERROR_CODE.notFederated]: 404,
  [ERROR_CODE.payloadTooLarge]: 413,
  [ERROR_CODE.unknownSerial]: 404,
  [ERROR_CODE.keyMaterialExists]: 409,
  [ERROR_CODE.keyMaterialSlotsFull]: 409,
  [ERROR_CODE.keyMaterialNotFound]: 404,
  [ERROR_CODE.duplicateInitKey]: 409,
  [ERROR_CODE.keyPackageLimit]: 413,
  [ERROR_CODE.homeActorsOnly]: 403,
};

export function replyErrorToApiError(error: { code: string; message: string }, commandId: string): ApiError {
  const status = REPLY_STATUS[error.code] ?? 500;
  return new ApiError(status, status === 500 ? ERROR_CODE.internal : error.code, error.message, status >= 500 ? commandId : undefined);
}

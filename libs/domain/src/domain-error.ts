import { ERROR_CODE, type ErrorCode } from '@p2/contracts';

/** A command refused by a business rule. Deciders throw it; handlers turn it into a reply. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export const domainErrors = {
  federationIdTaken: (fid: string) =>
    new DomainError(ERROR_CODE.federationIdTaken, `The federation ID ${fid} is already taken.`),
  nameReserved: (localName: string) =>
    new DomainError(ERROR_CODE.nameReserved, `The name "${localName}" is reserved for an administrator of this server; an operator creates it.`),
  notOfThisServer: (fid: string, domain: string) =>
    new DomainError(ERROR_CODE.invalidActorName, `${fid} is not an actor name of this server, whose domain is ${domain}.`),
  actorNotFound: (fid: string) =>
    new DomainError(ERROR_CODE.actorNotFound, `No actor ${fid} is registered on this server.`),
  sessionNotFound: (sessionId: string) =>
    new DomainError(ERROR_CODE.sessionNotFound, `This actor has no active session "${sessionId}".`),
  /** The command's token is no longer its session's (logged out, replaced, the session deleted):
   * the same answer the gateway gives any dead token, since a concurrent request on the same token
   * may have ended it after the gateway checked it (docs/protocol.md#idempotency-ended-token). */
  tokenEnded: () => new DomainError(ERROR_CODE.unauthorized, 'The session token is unknown, revoked or belongs to an invalid certificate.'),
  sessionIdInUse: (sessionId: string) =>
    new DomainError(
      ERROR_CODE.sessionIdInUse,
      `The session ID "${sessionId}" belongs to a valid ID-Cert of this actor; choose another one.`,
    ),
  certInvalidated: (serial: string) =>
    new DomainError(ERROR_CODE.certInvalidated, `The ID-Cert ${serial} is invalidated, expired or no longer its session's current cert.`),
  /** One code for every failed challenge (docs/protocol.md#identify); `why` tells the client which rule failed. */
  challengeFailed: (why: string) => new DomainError(ERROR_CODE.challengeFailed, why),
};

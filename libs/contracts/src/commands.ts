import type { Message } from './envelope';

/** Commands travel gateway → certstore on the commands topic, keyed by the aggregate's stream id.
 * They never carry a password, a token or a private key: the gateway sends hashes only. */
export interface RegisterActorData {
  readonly federationId: string;
  readonly localName: string;
  /** scrypt hash in the PHC-like format of the gateway's password hasher. Stored outside the event log. */
  readonly passwordHash: string;
}

export interface OpenSessionData {
  readonly federationId: string;
  /** base64 of the ID-CSR's DER; the certstore validates it again before signing. */
  readonly csr: string;
  /** hex SHA-256 of the session token the gateway hands to the client. */
  readonly tokenHash: string;
}

export interface LogOutSessionData {
  readonly federationId: string;
  readonly sessionId: string;
  /** hex SHA-256 of the token being revoked (the calling token) */
  readonly tokenHash: string;
}

export interface DeleteSessionData {
  readonly federationId: string;
  readonly sessionId: string;
}

export type RegisterActor = Message<'RegisterActor', RegisterActorData>;
export type OpenSession = Message<'OpenSession', OpenSessionData>;

export type LogOutSession = Message<'LogOutSession', LogOutSessionData>;
export type DeleteSession = Message<'DeleteSession', DeleteSessionData>;

export type Command = RegisterActor | OpenSession | LogOutSession | DeleteSession;
export type CommandType = Command['type'];

export const COMMAND_TYPES: readonly CommandType[] = ['RegisterActor', 'OpenSession', 'LogOutSession', 'DeleteSession'];

import type { Message } from './envelope';
import type { KeyPackageData } from './events';

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

export interface RotateIdCertData {
  readonly federationId: string;
  readonly sessionId: string;
  /** the serial of the calling token's cert: rotation is refused if the session moved on since */
  readonly currentSerial: string;
  /** base64 of the ID-CSR's DER */
  readonly csr: string;
  /** hex SHA-256 of the new session token */
  readonly tokenHash: string;
}

export interface RotateServerKeyData {
  /** the administrator asking (federation ID) */
  readonly requestedBy: string;
  /** profile D6: a compromised key invalidates every actor cert it signed */
  readonly compromised: boolean;
}

export interface AcknowledgeInboxData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly upTo: number;
}

/** One item of encrypted private key material (digest §1.2 R2, §3.10). `keyData` is encrypted on
 * the client, so it may travel and be stored; it is still never logged. */
export interface KeyMaterialItem {
  /** decimal serial of one of the actor's ID-Certs */
  readonly serial: string;
  /** the PEM text as the client sent it */
  readonly keyData: string;
  /** dotted OIDs in the client's order (last applied first); empty when the client named none */
  readonly encryptionAlgorithms: readonly string[];
  /** the algorithms exactly as the client sent them (OID strings or DER byte arrays), when it sent any */
  readonly rawEncryptionAlgorithms?: unknown;
}

export interface StoreKeyMaterialData {
  readonly federationId: string;
  /** stored all or nothing */
  readonly items: readonly KeyMaterialItem[];
}

export interface DeleteKeyMaterialData {
  readonly federationId: string;
  /** decimal serials; those with nothing stored are ignored unless none matches */
  readonly serials: readonly string[];
}

/** GET /challenge (R8): the gateway draws the challenge string (public: it is signed, never a
 * secret); the certstore stamps issuance and expiry with its own clock and TTL. */
export interface IssueChallengeData {
  readonly challenge: string;
  /** digest R8 Rec: only this actor may use the challenge */
  readonly boundFederationId?: string;
  /** only a cert with this session ID may use the challenge */
  readonly boundSessionId?: string;
}

/** POST /session/identify (R18): consume the challenge and give the cert a new token. The
 * signature is a one-time proof over a public challenge, not a secret; the token travels as its hash. */
export interface IdentifySessionData {
  readonly federationId: string;
  readonly sessionId: string;
  /** decimal serial of the ID-Cert presented */
  readonly serial: string;
  readonly challenge: string;
  /** hex of the 64-byte Ed25519 signature over the challenge's UTF-8 bytes */
  readonly signature: string;
  /** hex SHA-256 of the new session token */
  readonly tokenHash: string;
}

/** KeyPackages for the calling session's current ID-Cert (R6); `serial` is that cert. */
export interface AddKeyPackagesData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly keyPackages: readonly KeyPackageData[];
}

/** The calling session's last-resort KeyPackage (R7). */
export interface ReplaceLastResortKeyPackageData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly keyPackage: KeyPackageData;
}

/** Hand out one KeyPackage per active session of `federationId` (R15). A write: each package is
 * consumed, so it is decided on the actor's partition like every other write. */
export interface ClaimKeyPackagesData {
  readonly federationId: string;
  /** federation ID of the caller */
  readonly requestedBy: string;
}

export type RegisterActor = Message<'RegisterActor', RegisterActorData>;
export type OpenSession = Message<'OpenSession', OpenSessionData>;

export type LogOutSession = Message<'LogOutSession', LogOutSessionData>;
export type DeleteSession = Message<'DeleteSession', DeleteSessionData>;

export type RotateIdCert = Message<'RotateIdCert', RotateIdCertData>;
export type RotateServerKey = Message<'RotateServerKey', RotateServerKeyData>;
export type AcknowledgeInbox = Message<'AcknowledgeInbox', AcknowledgeInboxData>;

export type StoreKeyMaterial = Message<'StoreKeyMaterial', StoreKeyMaterialData>;
export type DeleteKeyMaterial = Message<'DeleteKeyMaterial', DeleteKeyMaterialData>;

export type IssueChallenge = Message<'IssueChallenge', IssueChallengeData>;
export type IdentifySession = Message<'IdentifySession', IdentifySessionData>;

export type AddKeyPackages = Message<'AddKeyPackages', AddKeyPackagesData>;
export type ReplaceLastResortKeyPackage = Message<'ReplaceLastResortKeyPackage', ReplaceLastResortKeyPackageData>;
export type ClaimKeyPackages = Message<'ClaimKeyPackages', ClaimKeyPackagesData>;

export type Command = RegisterActor | OpenSession | LogOutSession | DeleteSession | RotateIdCert | RotateServerKey | AcknowledgeInbox | StoreKeyMaterial | DeleteKeyMaterial | IssueChallenge | IdentifySession | AddKeyPackages | ReplaceLastResortKeyPackage | ClaimKeyPackages;
export type CommandType = Command['type'];

export const COMMAND_TYPES: readonly CommandType[] = ['RegisterActor', 'OpenSession', 'LogOutSession', 'DeleteSession', 'RotateIdCert', 'RotateServerKey', 'AcknowledgeInbox', 'StoreKeyMaterial', 'DeleteKeyMaterial', 'IssueChallenge', 'IdentifySession', 'AddKeyPackages', 'ReplaceLastResortKeyPackage', 'ClaimKeyPackages'];

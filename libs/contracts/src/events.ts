import type { KeyPackageData } from './commands';
import type { MessageMetadata } from './envelope';

/** Public domain events: stored in the event store and relayed to the events topic.
 * Payloads carry certificates, serials, session ids and hashes; never private keys,
 * passwords or tokens. Serials are decimal strings (they may exceed 2^31). */
export interface ServerKeyGeneratedData {
  readonly serial: string;
  readonly certPem: string;
  /** base64 of the raw 32-byte Ed25519 public key */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly generatedAt: string;
}

export interface ActorRegisteredData {
  readonly federationId: string;
  readonly localName: string;
  readonly registeredAt: string;
}

export interface SessionOpenedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly tokenHash: string;
  readonly openedAt: string;
}

export interface IdCertIssuedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly certPem: string;
  /** base64 of the raw 32-byte Ed25519 public key of the session */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly issuedAt: string;
  readonly rootSerial: string;
}

export interface SessionLoggedOutData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly tokenHash: string;
  readonly loggedOutAt: string;
}

export interface SessionDeletedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly deletedAt: string;
}

export interface IdCertInvalidatedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly invalidatedAt: string;
  readonly reason: 'session-deleted' | 'rotated' | 'server-key-compromised';
}

/** A session's cert replaced by a new one with the same session ID (docs/protocol.md#cert-rotation): the new cert and the new
 * token's hash travel in one event; the old cert is invalidated by the IdCertInvalidated before it. */
export interface IdCertRotatedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly previousSerial: string;
  readonly serial: string;
  readonly certPem: string;
  /** base64 of the raw 32-byte Ed25519 public key of the session */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly rootSerial: string;
  readonly tokenHash: string;
  readonly rotatedAt: string;
}

/** A new home server root (docs/protocol.md#server-key-rotation). The previous root stays in history, in use until
 * `rotatedAt`; with `compromised` every actor cert it signed is invalidated too. */
export interface ServerKeyRotatedData extends Omit<ServerKeyGeneratedData, 'generatedAt'> {
  readonly previousSerial: string;
  readonly rotatedAt: string;
  readonly compromised: boolean;
  readonly requestedBy: string;
}

/** A session fetched its inbox (GET /events) up to sequence number `upTo`. */
export interface InboxAcknowledgedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly upTo: number;
  readonly acknowledgedAt: string;
}

/** A secret payload in the log, encrypted (AES-256-GCM) under a data key of its own that is kept beside
 * the log, in `data_keys`, wrapped with the certstore's key-encryption key. Destroying the data key
 * makes the ciphertext unreadable everywhere it was copied: the log, the events topic, backups
 * (crypto-shredding, docs/architecture.md#crypto-shredding). */
export interface ShreddableSecret {
  /** the `data_keys` row */
  readonly keyId: string;
  /** `d1.<iv>.<tag>.<ciphertext>`, base64url */
  readonly ciphertext: string;
}

/** One item of encrypted private key material stored (POST /session/keymaterial). The client's
 * `key_data` is never logged, and in the log it is sealed under the item's data key
 * (`sealedKeyData`, schema version 2), so that deleting the item destroys it
 * (docs/architecture.md#crypto-shredding). The decider emits it with `keyData`; the certstore seals
 * it before the append. Events of schema version 1 (written before crypto-shredding) carry
 * `keyData` itself. */
export interface KeyMaterialStoredData {
  readonly federationId: string;
  readonly serial: string;
  /** the client's key_data: as decided, and in events of schema version 1 */
  readonly keyData?: string;
  /** schema version 2: key_data sealed under the item's data key */
  readonly sealedKeyData?: ShreddableSecret;
  /** dotted OIDs, last applied first; empty when the client named none */
  readonly encryptionAlgorithms: readonly string[];
  /** the algorithms exactly as the client sent them, when it sent any */
  readonly rawEncryptionAlgorithms?: unknown;
  readonly storedAt: string;
}

/** Key material deleted (DELETE /session/keymaterial): only the serials that had something stored. */
export interface KeyMaterialDeletedData {
  readonly federationId: string;
  readonly serials: readonly string[];
  readonly deletedAt: string;
}

/** A challenge string handed out by GET /challenge, on the stream `challenge-<value>`. No longer
 * written: challenges are signed values that need no write until they are used
 * (docs/protocol.md#challenge-strings). Logs written before keep these events; they stay readable
 * and no projection reads them. */
export interface ChallengeIssuedData {
  readonly challenge: string;
  readonly issuedAt: string;
  /** whole seconds; the challenge is accepted up to and including this instant */
  readonly expiresAt: string;
  readonly boundFederationId?: string;
  readonly boundSessionId?: string;
}

/** A challenge used by a successful identify. No longer written (its use is recorded in
 * consumed_challenges, see docs/protocol.md#challenge-strings); kept readable for older logs, which
 * no projection reads. */
export interface ChallengeConsumedData {
  readonly challenge: string;
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly consumedAt: string;
}

/** An actor proved possession of its session key with a completed challenge (docs/protocol.md#identify): the session's
 * current cert gets a new token (its hash here) and any previous token of that cert dies. */
export interface SessionIdentifiedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly tokenHash: string;
  readonly identifiedAt: string;
}

/** Regular KeyPackages uploaded by a session (POST /keypackage/@me), bound to that session's current ID-Cert: they
 * are handed out only while `serial` is the session's valid cert. */
export interface KeyPackagesAddedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly keyPackages: readonly KeyPackageData[];
  readonly addedAt: string;
}

/** The session's last-resort KeyPackage replaced (PUT /keypackage_lr): the session's previous one is retired and
 * the new one starts unused. */
export interface LastResortKeyPackageReplacedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly keyPackage: KeyPackageData;
  readonly replacedAt: string;
}

/** A regular KeyPackage handed out (GET /keypackage/:fid); it is never handed out again. */
export interface KeyPackageClaimedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly initKey: string;
  /** federation ID of the caller that fetched it */
  readonly requestedBy: string;
  readonly claimedAt: string;
}

/** A session's last-resort KeyPackage handed out because it had no regular one left
 * (docs/protocol.md#last-resort); the session is asked for more (LOW_KEY_PACKAGES). `previouslyServed` is true when it had
 * already been served since it was put in place. */
export interface LastResortKeyPackageServedData {
  readonly federationId: string;
  readonly sessionId: string;
  /** the cert serial the package is bound to */
  readonly serial: string;
  readonly initKey: string;
  readonly requestedBy: string;
  readonly previouslyServed: boolean;
  readonly servedAt: string;
}

/** A signed cache window as a home server sent it (UNIX seconds, docs/protocol.md#cache-information). */
export interface ForeignCacheInfo {
  readonly notValidBefore: number;
  readonly notValidAfter: number;
  readonly signature: string;
  readonly invalidatedAt?: number;
}

/** A root of another home server, verified and cached (docs/protocol.md#federation-cache). With
 * `current`, the home server named it its current root at `fetchedAt`; `replaces` is the root it
 * replaced as current (a rotation of that server's key: every cert of the old root is checked
 * again before it is trusted, docs/protocol.md#foreign-invalidation). */
export interface ForeignServerCertCachedData {
  readonly domain: string;
  readonly serial: string;
  readonly certPem: string;
  /** base64 of the raw 32-byte Ed25519 public key */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly current: boolean;
  readonly replaces?: string;
  readonly cache?: ForeignCacheInfo;
  /** trusted without asking again until then */
  readonly cacheUntil: string;
  readonly fetchedAt: string;
}

/** What a foreign actor's home server said about one of its certs at `checkedAt`, verified
 * (docs/protocol.md#federation-cache). `invalidatedAt` is present when the home server lists the
 * cert as invalidated, or, with `notListed`, when it answered without listing the cert: that ends
 * it here as an invalidation does, from `checkedAt` (docs/protocol.md#foreign-invalidation). */
export interface ForeignIdCertCachedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly issuerDomain: string;
  readonly serial: string;
  readonly certPem: string;
  /** base64 of the raw 32-byte Ed25519 public key */
  readonly publicKey: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly rootSerial: string;
  readonly invalidatedAt?: string;
  readonly notListed?: true;
  readonly cache?: ForeignCacheInfo;
  readonly cacheUntil: string;
  readonly checkedAt: string;
}

/** A foreign cert its home server reports invalidated (docs/protocol.md#foreign-invalidation). When
 * it was the session's current cert, the session's token (`tokenHash`) dies with it. */
export interface ForeignIdCertInvalidatedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly invalidatedAt: string;
  readonly tokenHash?: string;
}

/** A foreign actor proved possession of its session key with a completed challenge
 * (docs/protocol.md#foreign-sessions): the cert becomes the foreign session's current one and the
 * session gets a new token; a previous token of the session dies. */
export interface ForeignSessionIdentifiedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly tokenHash: string;
  readonly identifiedAt: string;
}

/** A foreign session announced its newer cert (PUT /session/idcert/extern); its token stays. */
export interface ForeignIdCertAnnouncedData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly previousSerial: string;
  readonly serial: string;
  readonly announcedAt: string;
}

/** A foreign session logged out: its token dies; its cert is untouched. */
export interface ForeignSessionLoggedOutData {
  readonly federationId: string;
  readonly sessionId: string;
  readonly serial: string;
  readonly tokenHash: string;
  readonly loggedOutAt: string;
}

export type DomainEvent =
  | { readonly type: 'ServerKeyGenerated'; readonly data: ServerKeyGeneratedData }
  | { readonly type: 'ActorRegistered'; readonly data: ActorRegisteredData }
  | { readonly type: 'SessionOpened'; readonly data: SessionOpenedData }
  | { readonly type: 'IdCertIssued'; readonly data: IdCertIssuedData }
  | { readonly type: 'SessionLoggedOut'; readonly data: SessionLoggedOutData }
  | { readonly type: 'SessionDeleted'; readonly data: SessionDeletedData }
  | { readonly type: 'IdCertInvalidated'; readonly data: IdCertInvalidatedData }
  | { readonly type: 'IdCertRotated'; readonly data: IdCertRotatedData }
  | { readonly type: 'ServerKeyRotated'; readonly data: ServerKeyRotatedData }
  | { readonly type: 'InboxAcknowledged'; readonly data: InboxAcknowledgedData }
  | { readonly type: 'KeyMaterialStored'; readonly data: KeyMaterialStoredData }
  | { readonly type: 'KeyMaterialDeleted'; readonly data: KeyMaterialDeletedData }
  | { readonly type: 'ChallengeIssued'; readonly data: ChallengeIssuedData }
  | { readonly type: 'ChallengeConsumed'; readonly data: ChallengeConsumedData }
  | { readonly type: 'SessionIdentified'; readonly data: SessionIdentifiedData }
  | { readonly type: 'KeyPackagesAdded'; readonly data: KeyPackagesAddedData }
  | { readonly type: 'LastResortKeyPackageReplaced'; readonly data: LastResortKeyPackageReplacedData }
  | { readonly type: 'KeyPackageClaimed'; readonly data: KeyPackageClaimedData }
  | { readonly type: 'LastResortKeyPackageServed'; readonly data: LastResortKeyPackageServedData }
  | { readonly type: 'ForeignServerCertCached'; readonly data: ForeignServerCertCachedData }
  | { readonly type: 'ForeignIdCertCached'; readonly data: ForeignIdCertCachedData }
  | { readonly type: 'ForeignIdCertInvalidated'; readonly data: ForeignIdCertInvalidatedData }
  | { readonly type: 'ForeignSessionIdentified'; readonly data: ForeignSessionIdentifiedData }
  | { readonly type: 'ForeignIdCertAnnounced'; readonly data: ForeignIdCertAnnouncedData }
  | { readonly type: 'ForeignSessionLoggedOut'; readonly data: ForeignSessionLoggedOutData };

export type DomainEventType = DomainEvent['type'];

/** An event as read back from the store. */
export type RecordedEvent<E extends DomainEvent = DomainEvent> = E & {
  readonly streamId: string;
  readonly streamPosition: number;
  readonly globalPosition: string;
  readonly metadata: MessageMetadata;
  readonly recordedAt: string;
};

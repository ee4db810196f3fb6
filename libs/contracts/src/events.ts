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
  readonly reason: 'session-deleted';
}

export type DomainEvent =
  | { readonly type: 'ServerKeyGenerated'; readonly data: ServerKeyGeneratedData }
  | { readonly type: 'ActorRegistered'; readonly data: ActorRegisteredData }
  | { readonly type: 'SessionOpened'; readonly data: SessionOpenedData }
  | { readonly type: 'IdCertIssued'; readonly data: IdCertIssuedData }
  | { readonly type: 'SessionLoggedOut'; readonly data: SessionLoggedOutData }
  | { readonly type: 'SessionDeleted'; readonly data: SessionDeletedData }
  | { readonly type: 'IdCertInvalidated'; readonly data: IdCertInvalidatedData };

export type DomainEventType = DomainEvent['type'];

/** An event as read back from the store. */
export type RecordedEvent<E extends DomainEvent = DomainEvent> = E & {
  readonly streamId: string;
  readonly streamPosition: number;
  readonly globalPosition: string;
  readonly metadata: MessageMetadata;
  readonly recordedAt: string;
};

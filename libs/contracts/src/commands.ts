import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested, IsBase64 } from 'class-validator';
import {
  IsBase64Text,
  IsCanonicalBase64,
  IsChallenge,
  IsDomain,
  IsDottedOid,
  IsFederationId,
  IsKeyPackageLabel,
  IsLocalName,
  IsRequester,
  IsSerial,
  IsSessionId,
  IsStorableJson,
  IsStorableText,
  IsTokenHash,
  IsUnlistedStatement,
  MAX_CERT_BASE64,
  OpaqueJson,
  OPERATOR_PATTERN,
  SIGNATURE_PATTERN,
} from './command-fields';
import { LATEST_UNIX_SECONDS } from '@p2/polyproto';
import type { Message } from './envelope';
import { KEY_PACKAGE_LIMITS } from './key-package.rules';

/** Commands travel gateway → certstore on the commands topic, keyed by the aggregate's stream id
 * (commandKey). They never carry a password, a token or a private key: the gateway sends hashes
 * only. Each payload is a class whose decorators are the contract: the gateway builds these
 * objects, and the certstore validates every command against its class at the boundary
 * (decodeCommandData), so handlers receive typed data. */

/** The largest base64 ID-CSR a command may carry (a real one is a few hundred bytes). */
const MAX_CSR_BASE64 = 16384;

export class RegisterActorData {
  @IsFederationId() readonly federationId!: string;
  @IsLocalName() readonly localName!: string;
  /** the scrypt hash of the gateway's password hasher, sealed for the certstore (never readable on
   * Kafka: docs/architecture.md#sealed-credentials). Stored outside the event log. */
  @IsString() @Matches(/^sealed1\./) @MaxLength(1024) readonly sealedPasswordHash!: string;
  /** `operator:<user>` when an operator creates an administrator (p2ctl admins create); absent from
   * POST /register. A name of P2_ADMINS is registered only with it (docs/protocol.md#administrators). */
  @IsOptional() @IsString() @Matches(OPERATOR_PATTERN) readonly requestedBy?: string;
}

export class OpenSessionData {
  @IsFederationId() readonly federationId!: string;
  /** base64 of the ID-CSR's DER; the certstore validates it again before signing. */
  @IsBase64() @MaxLength(MAX_CSR_BASE64) readonly csr!: string;
  /** hex SHA-256 of the session token the gateway hands to the client. */
  @IsTokenHash() readonly tokenHash!: string;
  /** a new hash of the password that just verified, sealed like RegisterActor's, when the stored one has weaker parameters;
   * replaces it beside the log in the transaction that opens the session */
  @IsOptional() @IsString() @Matches(/^sealed1\./) @MaxLength(1024) readonly sealedPasswordRehash?: string;
}

export class LogOutSessionData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  /** hex SHA-256 of the token being revoked (the calling token) */
  @IsTokenHash() readonly tokenHash!: string;
}

export class DeleteSessionData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  /** hex SHA-256 of the calling token, when the caller deletes its own session: a concurrent request
   * on that token may have ended it, and the caller is then told its token is dead (401), not 404 */
  @IsOptional() @IsTokenHash() readonly callerTokenHash?: string;
}

export class RotateIdCertData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  /** the serial of the calling token's cert: rotation is refused if the session moved on since */
  @IsSerial() readonly currentSerial!: string;
  /** base64 of the ID-CSR's DER */
  @IsBase64() @MaxLength(MAX_CSR_BASE64) readonly csr!: string;
  /** hex SHA-256 of the new session token */
  @IsTokenHash() readonly tokenHash!: string;
}

export class RotateServerKeyData {
  /** the administrator asking (federation ID), or `operator:<user>` (p2ctl) */
  @IsRequester() readonly requestedBy!: string;
  /** a compromised key invalidates every actor cert it signed (docs/protocol.md#server-key-rotation) */
  @IsBoolean() readonly compromised!: boolean;
}

/** What AcknowledgeInbox's `upTo` may be: an inbox item's `s`. */
export const INBOX_POSITION = { min: 1, max: Number.MAX_SAFE_INTEGER } as const;

export class AcknowledgeInboxData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  @IsInt() @Min(INBOX_POSITION.min) @Max(INBOX_POSITION.max) readonly upTo!: number;
}

/** One item of encrypted private key material (docs/protocol.md#key-material-shapes). `keyData` is encrypted on
 * the client, so it may travel and be stored; it is still never logged. */
export class KeyMaterialItem {
  /** decimal serial of one of the actor's ID-Certs */
  @IsSerial() readonly serial!: string;
  /** the PEM text as the client sent it (its size limit is a business rule: 413, not malformed) */
  @IsStorableText() readonly keyData!: string;
  /** dotted OIDs in the client's order (last applied first); empty when the client named none */
  @IsArray() @IsDottedOid({ each: true }) readonly encryptionAlgorithms!: readonly string[];
  /** the algorithms exactly as the client sent them (OID strings or DER byte arrays), when it sent any */
  @OpaqueJson() @IsOptional() @IsStorableJson() readonly rawEncryptionAlgorithms?: unknown;
}

export class StoreKeyMaterialData {
  @IsFederationId() readonly federationId!: string;
  /** stored all or nothing */
  @IsArray() @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => KeyMaterialItem) readonly items!: readonly KeyMaterialItem[];
}

export class DeleteKeyMaterialData {
  @IsFederationId() readonly federationId!: string;
  /** decimal serials; those with nothing stored are ignored unless none matches */
  @IsArray() @IsSerial({ each: true }) readonly serials!: readonly string[];
}

/** POST /session/identify (docs/protocol.md#identify): consume the challenge and give the cert a new token. The
 * signature is a one-time proof over a public challenge, not a secret; the token travels as its hash. The
 * gateway has checked the challenge's own signature (its key never leaves the gateways); the
 * certstore records the challenge as used until `challengeExpires`. */
export class IdentifySessionData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  /** decimal serial of the ID-Cert presented */
  @IsSerial() readonly serial!: string;
  @IsChallenge() readonly challenge!: string;
  /** the challenge's expiry as it states it: UNIX seconds, accepted up to and including it (at most the year 9999) */
  @IsInt() @Min(0) @Max(LATEST_UNIX_SECONDS) readonly challengeExpires!: number;
  /** hex of the 64-byte Ed25519 signature over the challenge's UTF-8 bytes */
  @IsString() @Matches(SIGNATURE_PATTERN) readonly signature!: string;
  /** hex SHA-256 of the new session token */
  @IsTokenHash() readonly tokenHash!: string;
}

/** One MLS KeyPackage (docs/protocol.md#key-package-format), stored opaque apart from `initKey`, which is unique over
 * every KeyPackage this server ever stored. KeyPackages are public (anyone may fetch them to add
 * the session to a group), so they may travel in events. */
export class KeyPackageData {
  @IsKeyPackageLabel() readonly protocolVersion!: string;
  @IsKeyPackageLabel() readonly cipherSuite!: string;
  /** standard base64 with padding, normalised so that one key has one spelling */
  @IsCanonicalBase64(KEY_PACKAGE_LIMITS.initKeyMaxChars) readonly initKey!: string;
  /** base64, as the client sent it */
  @IsBase64Text(KEY_PACKAGE_LIMITS.leafNodeMaxChars) readonly leafNode!: string;
  /** any JSON, exactly as the client sent it (any keys); null when the client sent none */
  @OpaqueJson() @IsStorableJson() readonly extensions!: unknown;
}

/** KeyPackages for the calling session's current ID-Cert (POST /keypackage/@me); `serial` is that cert. */
export class AddKeyPackagesData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  @IsSerial() readonly serial!: string;
  @IsArray() @IsObject({ each: true }) @ValidateNested({ each: true }) @Type(() => KeyPackageData) readonly keyPackages!: readonly KeyPackageData[];
}

/** The calling session's last-resort KeyPackage (PUT /keypackage_lr). */
export class ReplaceLastResortKeyPackageData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  @IsSerial() readonly serial!: string;
  @IsObject() @ValidateNested() @Type(() => KeyPackageData) readonly keyPackage!: KeyPackageData;
}

/** Hand out one KeyPackage per active session of `federationId` (GET /keypackage/:fid). A write: each package is
 * consumed, so it is decided on the actor's partition like every other write. */
export class ClaimKeyPackagesData {
  @IsFederationId() readonly federationId!: string;
  /** federation ID of the caller */
  @IsFederationId() readonly requestedBy!: string;
}

/** The signed cache window of a home server's 2025 answer, exactly as received (UNIX seconds;
 * docs/protocol.md#cache-information): the certstore verifies the signature again. Its times end
 * with year 9999, as the gateway's reader of the answer holds them: the certstore turns them into
 * dates it stores, and a later one would fail in the database, not here. */
export class CacheInfoData {
  @IsInt() @Min(0) @Max(LATEST_UNIX_SECONDS) readonly notValidBefore!: number;
  @IsInt() @Min(0) @Max(LATEST_UNIX_SECONDS) readonly notValidAfter!: number;
  /** hex of the home server's Ed25519 signature */
  @IsString() @Matches(SIGNATURE_PATTERN) readonly signature!: string;
  @IsOptional() @IsInt() @Min(0) @Max(LATEST_UNIX_SECONDS) readonly invalidatedAt?: number;
}

/** A foreign home server's root, fetched and verified by a gateway (docs/protocol.md#federation-cache).
 * The certstore verifies it again (self-signature, domain, validity, cache signature) before
 * recording it; the clock and the cache bound are the certstore's. */
export class CacheForeignServerCertData {
  @IsDomain() readonly domain!: string;
  /** base64 of the root's DER */
  @IsBase64() @MaxLength(MAX_CERT_BASE64) readonly cert!: string;
  /** true: the home server's current root (GET /idcert/server); false: the one it had at a past time */
  @IsBoolean() readonly current!: boolean;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => CacheInfoData) readonly cache?: CacheInfoData;
  /** how long the answer was fresh by its HTTP caching headers, when they said */
  @IsOptional() @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) readonly httpFreshSeconds?: number;
}

/** What a foreign actor's home server said about one of its certs (docs/protocol.md#federation-cache):
 * listed, invalidated or not, with its signed window; or, `listed: false`, that it does not list it
 * (docs/protocol.md#foreign-invalidation). The certstore verifies the cert against the recorded root
 * `rootSerial` and the window with the domain's current root before recording it. */
export class CacheForeignIdCertData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  /** base64 of the cert's DER */
  @IsBase64() @MaxLength(MAX_CERT_BASE64) readonly cert!: string;
  /** the recorded root of the actor's domain that signed it */
  @IsSerial() readonly rootSerial!: string;
  @IsBoolean() readonly invalidated!: boolean;
  /** false: the home server answered, and its answer does not list the cert (absent: it does) */
  @IsOptional() @IsUnlistedStatement() readonly listed?: false;
  @IsOptional() @IsObject() @ValidateNested() @Type(() => CacheInfoData) readonly cache?: CacheInfoData;
  @IsOptional() @IsInt() @Min(0) @Max(Number.MAX_SAFE_INTEGER) readonly httpFreshSeconds?: number;
}

/** an instant as Date#toISOString writes it, which is how the certstore records `checkedAt` */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** POST /session/identify with a foreign actor's cert (docs/protocol.md#foreign-sessions): the
 * fields of IdentifySession, decided on the foreign session's stream: consume the challenge and give
 * the session a token. The cert must be cached and vouched for. */
export class IdentifyForeignSessionData extends IdentifySessionData {
  /** the `checkedAt` of the home server's word this request fetched and recorded (CacheForeignIdCert's
   * reply); absent when the cache answered. While it is still the cert's latest word, the word's
   * window is not checked again: it was asked for this request (docs/protocol.md#federation-cache). */
  @IsOptional() @Matches(ISO_INSTANT) readonly vouchedAt?: string;
}

/** PUT /session/idcert/extern from a foreign session (docs/protocol.md#route-idcert-extern): its
 * newer cert, already cached and vouched for, becomes the session's current one. */
export class AnnounceForeignIdCertData {
  @IsFederationId() readonly federationId!: string;
  @IsSessionId() readonly sessionId!: string;
  @IsSerial() readonly serial!: string;
  /** as IdentifyForeignSessionData's */
  @IsOptional() @Matches(ISO_INSTANT) readonly vouchedAt?: string;
}

/** PUT /session/revoke from a foreign session: the fields of LogOutSession; its token dies. */
export class LogOutForeignSessionData extends LogOutSessionData {}

/** Every command type with the class of its data: what the certstore validates against, and what
 * gives each command its TypeScript type. */
export const COMMAND_DATA = {
  RegisterActor: RegisterActorData,
  OpenSession: OpenSessionData,
  LogOutSession: LogOutSessionData,
  DeleteSession: DeleteSessionData,
  RotateIdCert: RotateIdCertData,
  RotateServerKey: RotateServerKeyData,
  AcknowledgeInbox: AcknowledgeInboxData,
  StoreKeyMaterial: StoreKeyMaterialData,
  DeleteKeyMaterial: DeleteKeyMaterialData,
  IdentifySession: IdentifySessionData,
  AddKeyPackages: AddKeyPackagesData,
  ReplaceLastResortKeyPackage: ReplaceLastResortKeyPackageData,
  ClaimKeyPackages: ClaimKeyPackagesData,
  CacheForeignServerCert: CacheForeignServerCertData,
  CacheForeignIdCert: CacheForeignIdCertData,
  IdentifyForeignSession: IdentifyForeignSessionData,
  AnnounceForeignIdCert: AnnounceForeignIdCertData,
  LogOutForeignSession: LogOutForeignSessionData,
} as const;

export type CommandType = keyof typeof COMMAND_DATA;
export type CommandDataOf<T extends CommandType> = InstanceType<(typeof COMMAND_DATA)[T]>;
export type CommandOf<T extends CommandType> = Message<T, CommandDataOf<T>>;
/** The union of every command envelope. */
export type Command = { [T in CommandType]: CommandOf<T> }[CommandType];

export type RegisterActor = CommandOf<'RegisterActor'>;
export type OpenSession = CommandOf<'OpenSession'>;
export type LogOutSession = CommandOf<'LogOutSession'>;
export type DeleteSession = CommandOf<'DeleteSession'>;
export type RotateIdCert = CommandOf<'RotateIdCert'>;
export type RotateServerKey = CommandOf<'RotateServerKey'>;
export type AcknowledgeInbox = CommandOf<'AcknowledgeInbox'>;
export type StoreKeyMaterial = CommandOf<'StoreKeyMaterial'>;
export type DeleteKeyMaterial = CommandOf<'DeleteKeyMaterial'>;
export type IdentifySession = CommandOf<'IdentifySession'>;
export type AddKeyPackages = CommandOf<'AddKeyPackages'>;
export type ReplaceLastResortKeyPackage = CommandOf<'ReplaceLastResortKeyPackage'>;
export type ClaimKeyPackages = CommandOf<'ClaimKeyPackages'>;
export type CacheForeignServerCert = CommandOf<'CacheForeignServerCert'>;
export type CacheForeignIdCert = CommandOf<'CacheForeignIdCert'>;
export type IdentifyForeignSession = CommandOf<'IdentifyForeignSession'>;
export type AnnounceForeignIdCert = CommandOf<'AnnounceForeignIdCert'>;
export type LogOutForeignSession = CommandOf<'LogOutForeignSession'>;

export const COMMAND_TYPES = Object.keys(COMMAND_DATA) as readonly CommandType[];

export function isCommandType(type: string): type is CommandType {
  return Object.prototype.hasOwnProperty.call(COMMAND_DATA, type);
}

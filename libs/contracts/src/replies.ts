import type { Command, CommandType } from './commands';
import type { KeyPackageData } from './commands';

/** What the certstore answers to a command, on the replies topic (see README, topics). */
export interface ReplyError {
  /** A stable code of ERROR_CODE; the gateway maps it to an HTTP status. */
  readonly code: string;
  readonly message: string;
}

/** One KeyPackage handed out by ClaimKeyPackages, with the session it belongs to. */
export interface ClaimedKeyPackage {
  readonly sessionId: string;
  readonly serial: string;
  readonly lastResort: boolean;
  readonly keyPackage: KeyPackageData;
}

/** The result of each command type when it is accepted. */
export interface CommandResults {
  RegisterActor: { readonly type: 'ActorRegistered'; readonly federationId: string };
  OpenSession: {
    readonly type: 'SessionOpened';
    readonly federationId: string;
    readonly sessionId: string;
    readonly serial: string;
    readonly idCertPem: string;
  };
  LogOutSession: { readonly type: 'SessionLoggedOut'; readonly federationId: string; readonly sessionId: string };
  DeleteSession: { readonly type: 'SessionDeleted'; readonly federationId: string; readonly sessionId: string; readonly serial: string };
  RotateIdCert: { readonly type: 'IdCertRotated'; readonly federationId: string; readonly sessionId: string; readonly serial: string; readonly idCertPem: string };
  RotateServerKey: { readonly type: 'ServerKeyRotated'; readonly serial: string; readonly idCertPem: string };
  AcknowledgeInbox: { readonly type: 'InboxAcknowledged'; readonly upTo: number };
  StoreKeyMaterial: { readonly type: 'KeyMaterialStored'; readonly federationId: string; readonly serials: readonly string[] };
  DeleteKeyMaterial: { readonly type: 'KeyMaterialDeleted'; readonly federationId: string; readonly serials: readonly string[] };
  IdentifySession: { readonly type: 'SessionIdentified'; readonly federationId: string; readonly sessionId: string; readonly serial: string };
  AddKeyPackages: { readonly type: 'KeyPackagesAdded'; readonly federationId: string; readonly sessionId: string; readonly serial: string; readonly count: number };
  ReplaceLastResortKeyPackage: { readonly type: 'LastResortKeyPackageReplaced'; readonly federationId: string; readonly sessionId: string; readonly serial: string };
  ClaimKeyPackages: { readonly type: 'KeyPackagesClaimed'; readonly federationId: string; readonly keyPackages: readonly ClaimedKeyPackage[] };
  CacheForeignServerCert: { readonly type: 'ForeignServerCertCached'; readonly domain: string; readonly serial: string };
  CacheForeignIdCert: {
    readonly type: 'ForeignIdCertCached';
    readonly federationId: string;
    readonly sessionId: string;
    readonly serial: string;
    readonly invalidated: boolean;
    /** the instant the word was recorded at (the cert's `checkedAt`); absent from older certstores */
    readonly checkedAt?: string;
  };
  IdentifyForeignSession: { readonly type: 'ForeignSessionIdentified'; readonly federationId: string; readonly sessionId: string; readonly serial: string };
  AnnounceForeignIdCert: { readonly type: 'ForeignIdCertAnnounced'; readonly federationId: string; readonly sessionId: string; readonly serial: string };
  LogOutForeignSession: { readonly type: 'ForeignSessionLoggedOut'; readonly federationId: string; readonly sessionId: string };
}

/** The result an accepted command `C` answers with. */
export type ResultOf<C extends Pick<Command, 'type'>> = CommandResults[C['type']];
export type CommandResult = CommandResults[CommandType];

/** The result type each command answers with, so a receiver can check a reply matches its command. */
export const RESULT_TYPE: { readonly [T in CommandType]: CommandResults[T]['type'] } = {
  RegisterActor: 'ActorRegistered',
  OpenSession: 'SessionOpened',
  LogOutSession: 'SessionLoggedOut',
  DeleteSession: 'SessionDeleted',
  RotateIdCert: 'IdCertRotated',
  RotateServerKey: 'ServerKeyRotated',
  AcknowledgeInbox: 'InboxAcknowledged',
  StoreKeyMaterial: 'KeyMaterialStored',
  DeleteKeyMaterial: 'KeyMaterialDeleted',
  IdentifySession: 'SessionIdentified',
  AddKeyPackages: 'KeyPackagesAdded',
  ReplaceLastResortKeyPackage: 'LastResortKeyPackageReplaced',
  ClaimKeyPackages: 'KeyPackagesClaimed',
  CacheForeignServerCert: 'ForeignServerCertCached',
  CacheForeignIdCert: 'ForeignIdCertCached',
  IdentifyForeignSession: 'ForeignSessionIdentified',
  AnnounceForeignIdCert: 'ForeignIdCertAnnounced',
  LogOutForeignSession: 'ForeignSessionLoggedOut',
};

export type Reply<R = CommandResult> =
  | { readonly commandId: string; readonly ok: true; readonly result: R }
  | { readonly commandId: string; readonly ok: false; readonly error: ReplyError };

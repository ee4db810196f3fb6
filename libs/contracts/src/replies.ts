import type { KeyPackageData } from './events';

/** What the certstore answers to a command, on the replies topic, keyed by the gateway instance. */
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

export type CommandResult =
  | { readonly type: 'ActorRegistered'; readonly federationId: string }
  | {
      readonly type: 'SessionOpened';
      readonly federationId: string;
      readonly sessionId: string;
      readonly serial: string;
      readonly idCertPem: string;
    }
  | { readonly type: 'SessionLoggedOut'; readonly federationId: string; readonly sessionId: string }
  | { readonly type: 'SessionDeleted'; readonly federationId: string; readonly sessionId: string; readonly serial: string }
  | { readonly type: 'IdCertRotated'; readonly federationId: string; readonly sessionId: string; readonly serial: string; readonly idCertPem: string }
  | { readonly type: 'ServerKeyRotated'; readonly serial: string; readonly idCertPem: string }
  | { readonly type: 'InboxAcknowledged'; readonly upTo: number }
  | { readonly type: 'KeyMaterialStored'; readonly federationId: string; readonly serials: readonly string[] }
  | { readonly type: 'KeyMaterialDeleted'; readonly federationId: string; readonly serials: readonly string[] }
  | { readonly type: 'ChallengeIssued'; readonly challenge: string; readonly expires: number }
  | { readonly type: 'SessionIdentified'; readonly federationId: string; readonly sessionId: string; readonly serial: string }
  | { readonly type: 'KeyPackagesAdded'; readonly federationId: string; readonly sessionId: string; readonly serial: string; readonly count: number }
  | { readonly type: 'LastResortKeyPackageReplaced'; readonly federationId: string; readonly sessionId: string; readonly serial: string }
  | { readonly type: 'KeyPackagesClaimed'; readonly federationId: string; readonly keyPackages: readonly ClaimedKeyPackage[] };

export type Reply =
  | { readonly commandId: string; readonly ok: true; readonly result: CommandResult }
  | { readonly commandId: string; readonly ok: false; readonly error: ReplyError };

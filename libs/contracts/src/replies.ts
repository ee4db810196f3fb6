/** What the certstore answers to a command, on the replies topic, keyed by the gateway instance. */
export interface ReplyError {
  /** A stable code of ERROR_CODE; the gateway maps it to an HTTP status. */
  readonly code: string;
  readonly message: string;
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
  | { readonly type: 'SessionDeleted'; readonly federationId: string; readonly sessionId: string; readonly serial: string };

export type Reply =
  | { readonly commandId: string; readonly ok: true; readonly result: CommandResult }
  | { readonly commandId: string; readonly ok: false; readonly error: ReplyError };

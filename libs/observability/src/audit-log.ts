import { randomUUID } from 'node:crypto';
import { HEADER } from '@p2/contracts';
import type { RecordPublisher } from '@p2/messaging';
import { currentCorrelation } from './correlation';

/** Version of the audit entry schema (README, Audit). */
export const AUDIT_SCHEMA_VERSION = 1;

/**
 * What happened. Known kinds: `login.failed` (POST /session/trust: unknown actor, without its
 * name, or wrong password), `sensitive.failed` (X-P2-Sensitive-Solution missing or wrong), `admin.refused` (an
 * admin route called by a non-admin), `server-key.rotated` (admin action), `operator.action`
 * (p2ctl). Later: `rate-limit.refused`, `lockout.started`. Open: a new kind needs no new version.
 */
export type AuditKind = 'login.failed' | 'sensitive.failed' | 'admin.refused' | 'server-key.rotated' | 'operator.action' | 'rate-limit.refused' | 'lockout.started' | (string & {});

/** What the caller says; the rest (time, correlation, client address, route) is filled in. */
export interface AuditInput {
  readonly kind: AuditKind;
  /** who: a federation ID, or `operator:<user>` for p2ctl; absent when not known, and absent for a
   * name that is no actor's (it may be a password typed into the name field) */
  readonly actor?: string;
  /** why, as a stable word (`wrong-password`, `unknown-actor`, `solution-missing`, …) */
  readonly reason: string;
  /** overrides the request's (for callers outside an HTTP request) */
  readonly clientAddress?: string;
  readonly route?: string;
  /** more facts, never a secret (no password, token, hash or key) */
  readonly details?: Readonly<Record<string, string | number | boolean | null>>;
}

/** One entry on `p2.core.audit.v1` (key: the actor, else the client address). */
export interface AuditEntry {
  readonly schemaVersion: typeof AUDIT_SCHEMA_VERSION;
  readonly id: string;
  readonly at: string;
  readonly kind: AuditKind;
  readonly actor: string | null;
  readonly clientAddress: string | null;
  readonly route: string | null;
  readonly reason: string;
  readonly correlationId: string | null;
  readonly instance: string;
  readonly role: string;
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

/**
 * The audit trail: security-relevant happenings that are not events (README, Audit). `record`
 * never blocks or fails the request it is called from: the entry is produced in the background and
 * a failure is logged by the publisher. Callers pass no secrets; the entry has no field for one.
 */
export class AuditLog {
  constructor(
    private readonly publisher: RecordPublisher,
    private readonly origin: { readonly instance: string; readonly role: string },
  ) {}

  /** Records `input` with the current request's correlation id, client address and route. */
  record(input: AuditInput): AuditEntry {
    const entry = this.entry(input);
    void this.publisher.send([{ key: entry.actor ?? entry.clientAddress ?? 'unknown', value: entry, headers: { [HEADER.messageType]: 'AuditEntry', ...(entry.correlationId ? { [HEADER.correlationId]: entry.correlationId } : {}) } }]);
    return entry;
  }

  /** As `record`, resolving once the broker took the entry (false: it was dropped). For tools
   * that exit right after (p2ctl). */
  async recordNow(input: AuditInput): Promise<boolean> {
    const entry = this.entry(input);
    return this.publisher.send([{ key: entry.actor ?? entry.clientAddress ?? 'unknown', value: entry, headers: { [HEADER.messageType]: 'AuditEntry' } }]);
  }

  async close(): Promise<void> {
    await this.publisher.close();
  }

  private entry(input: AuditInput): AuditEntry {
    const context = currentCorrelation();
    return {
      schemaVersion: AUDIT_SCHEMA_VERSION,
      id: randomUUID(),
      at: new Date().toISOString(),
      kind: input.kind,
      actor: input.actor ?? null,
      clientAddress: input.clientAddress ?? context?.clientAddress ?? null,
      route: input.route ?? context?.route ?? null,
      reason: input.reason,
      correlationId: context?.correlationId ?? null,
      instance: this.origin.instance,
      role: this.origin.role,
      details: input.details ?? {},
    };
  }
}

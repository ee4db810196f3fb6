import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import type { ChallengeState } from '@p2/domain';

/** A row of the id_certs read model, as identify and extern need it. */
export interface IdCertRecord {
  readonly serial: string;
  readonly federationId: string;
  readonly sessionId: string;
  readonly pem: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly invalidatedAt: Date | null;
  readonly rootSerial: string;
}

export interface ChallengeRecord {
  readonly state: ChallengeState;
  /** the serial of the cert whose identify used the challenge */
  readonly consumedBySerial: string | null;
}

/** Read-only queries of GET /challenge, POST /session/identify and /session/idcert/extern. */
@Injectable()
export class IdentifyReadModel {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async challenge(challenge: string): Promise<ChallengeRecord | undefined> {
    const rows: { expires_at: Date; bound_federation_id: string | null; bound_session_id: string | null; consumed_at: Date | null; consumed_by_serial: string | null }[] =
      await this.db.query(
        `SELECT expires_at, bound_federation_id, bound_session_id, consumed_at, consumed_by_serial::text AS consumed_by_serial
           FROM challenges WHERE challenge = $1`,
        [challenge],
      );
    const row = rows[0];
    if (!row) return undefined;
    return {
      state: {
        issued: true,
        expiresAt: row.expires_at.toISOString(),
        ...(row.bound_federation_id === null ? {} : { boundFederationId: row.bound_federation_id }),
        ...(row.bound_session_id === null ? {} : { boundSessionId: row.bound_session_id }),
        consumed: row.consumed_at !== null,
      },
      consumedBySerial: row.consumed_by_serial,
    };
  }

  async idCert(serial: string): Promise<IdCertRecord | undefined> {
    const rows: Record<string, unknown>[] = await this.db.query(
      `SELECT serial::text AS serial, federation_id, session_id, pem, not_before, not_after, invalidated_at, root_serial::text AS root_serial
         FROM id_certs WHERE serial = $1`,
      [serial],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      serial: row.serial as string,
      federationId: row.federation_id as string,
      sessionId: row.session_id as string,
      pem: row.pem as string,
      notBefore: row.not_before as Date,
      notAfter: row.not_after as Date,
      invalidatedAt: (row.invalidated_at as Date | null) ?? null,
      rootSerial: row.root_serial as string,
    };
  }

  /** The PEM of one of this server's roots, current or past. */
  async rootPem(serial: string): Promise<string | undefined> {
    const rows: { pem: string }[] = await this.db.query(`SELECT pem FROM server_certs WHERE serial = $1`, [serial]);
    return rows[0]?.pem;
  }
}

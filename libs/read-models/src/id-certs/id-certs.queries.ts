import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { AuthenticatedSession } from '../auth/authenticated-session';

export interface ServerCertRow {
  readonly serial: string;
  readonly pem: string;
  readonly publicKey: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly activeFrom: Date;
  readonly activeUntil: Date | null;
}

export interface ActorCertRow {
  readonly serial: string;
  readonly sessionId: string;
  readonly pem: string;
  readonly invalidatedAt: Date | null;
}

export interface CacheSignatureRow {
  readonly cacheNotValidBefore: number;
  readonly cacheNotValidAfter: number;
  readonly invalidatedAt: number | null;
  readonly signature: string;
}

/** Read-only access to the projections the certstore maintains. The gateway never writes. */
@Injectable()
export class ReadModels {
  /** The pool under TypeORM, for the one query every authenticated request makes. */
  private readonly pool: Pool;

  constructor(@InjectDataSource() private readonly db: DataSource) {
    this.pool = (db.driver as PostgresDriver).master as Pool;
  }

  async actorExists(federationId: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query('SELECT 1 FROM actors WHERE federation_id = $1', [federationId]);
    return rows.length > 0;
  }

  async passwordHash(federationId: string): Promise<string | undefined> {
    const rows: { password_hash: string }[] = await this.db.query('SELECT password_hash FROM actor_credentials WHERE federation_id = $1', [federationId]);
    return rows[0]?.password_hash;
  }

  /** Profile D14: with `at`, the certs issued at or before `at`, valid at `at` and not invalidated
   * at `at`; without, every cert still inside its validity now, invalidated or not. */
  async actorCerts(federationId: string, options: { at?: Date; sessionId?: string; range?: { from?: Date; to?: Date } }, now: Date): Promise<ActorCertRow[]> {
    const params: unknown[] = [federationId];
    let where = 'federation_id = $1';
    if (options.range) {
      // beta.3 notBefore/notAfter: every cert whose validity overlaps the range, invalidated or not
      if (options.range.from) where += ` AND not_after >= $${params.push(options.range.from)}`;
      if (options.range.to) where += ` AND not_before <= $${params.push(options.range.to)}`;
    } else if (options.at) {
      params.push(options.at);
      where += ` AND issued_at <= $2 AND not_before <= $2 AND not_after >= $2 AND (invalidated_at IS NULL OR invalidated_at > $2)`;
    } else {
      params.push(now);
      where += ` AND not_after >= $2`;
    }
    if (options.sessionId !== undefined) {
      params.push(options.sessionId);
      where += ` AND session_id = $${params.length}`;
    }
    const rows: { serial: string; session_id: string; pem: string; invalidated_at: Date | null }[] = await this.db.query(
      `SELECT serial::text AS serial, session_id, pem, invalidated_at FROM id_certs WHERE ${where} ORDER BY issued_at, id_certs.serial`,
      params,
    );
    return rows.map((r) => ({ serial: r.serial, sessionId: r.session_id, pem: r.pem, invalidatedAt: r.invalidated_at }));
  }

  /** The session a token hash belongs to, if its cert is valid at `now`. */
  async sessionByTokenHash(tokenHash: string, now: Date): Promise<AuthenticatedSession | undefined> {
    // A named statement: each pooled connection parses and plans it once, not once per request.
    const { rows } = await this.pool.query<{ federation_id: string; session_id: string; cert_serial: string }>({
      name: 'p2-session-by-token-hash',
      text: `SELECT t.federation_id, t.session_id, t.cert_serial::text AS cert_serial
               FROM session_tokens t JOIN id_certs c ON c.serial = t.cert_serial
              WHERE t.token_hash = $1 AND c.invalidated_at IS NULL AND c.not_before <= $2 AND c.not_after >= $2`,
      values: [tokenHash, now],
    });
    const row = rows[0];
    return row && { federationId: row.federation_id, sessionId: row.session_id, certSerial: row.cert_serial, tokenHash };
  }

  /** The root that was active at `at` (default: now). */
  async serverCert(at?: Date): Promise<ServerCertRow | undefined> {
    const rows: Record<string, unknown>[] = at
      ? await this.db.query(
          `SELECT serial::text AS serial, pem, public_key, not_before, not_after, active_from, active_until FROM server_certs
            WHERE active_from <= $1 AND (active_until IS NULL OR active_until > $1) AND not_before <= $1 AND not_after >= $1
            ORDER BY active_from DESC LIMIT 1`,
          [at],
        )
      : await this.db.query(
          `SELECT serial::text AS serial, pem, public_key, not_before, not_after, active_from, active_until FROM server_certs
            WHERE active_until IS NULL`,
        );
    const row = rows[0];
    if (!row) return undefined;
    return {
      serial: row.serial as string,
      pem: row.pem as string,
      publicKey: row.public_key as string,
      notBefore: row.not_before as Date,
      notAfter: row.not_after as Date,
      activeFrom: row.active_from as Date,
      activeUntil: (row.active_until as Date | null) ?? null,
    };
  }

  /** The freshest cache signature of a cert whose window contains `now`. */
  async cacheSignature(serial: string, now: Date): Promise<CacheSignatureRow | undefined> {
    const seconds = Math.floor(now.getTime() / 1000);
    const rows: Record<string, string | null>[] = await this.db.query(
      `SELECT cache_not_valid_before::text AS nb, cache_not_valid_after::text AS na, invalidated_at::text AS inv, signature
         FROM cache_signatures WHERE serial = $1 AND cache_not_valid_before <= $2 AND cache_not_valid_after > $2
        ORDER BY cache_not_valid_after DESC LIMIT 1`,
      [serial, seconds],
    );
    const row = rows[0];
    if (!row) return undefined;
    return {
      cacheNotValidBefore: Number(row.nb),
      cacheNotValidAfter: Number(row.na),
      invalidatedAt: row.inv === null ? null : Number(row.inv),
      signature: row.signature as string,
    };
  }
}

import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { signCacheableIdCert, type Ed25519Signer } from '@p2/polyproto';
import { ServerKeyService } from './server-key.service';
import { type Sql, sqlOf } from '@p2/event-store';

/** Length of a cache window (digest §3.7 recommends 1–12 h) and when to renew before it ends. */
export const CACHE_WINDOW_SECONDS = 6 * 3600;
const RENEW_BEFORE_SECONDS = 2 * 3600;
const REFRESH_EVERY_MS = 5 * 60 * 1000;

/** Signs the 2025 cache information of certificates with the home server key, so the gateway can
 * serve `cacheSignature` without holding the key. */
@Injectable()
export class CacheSignerService implements OnApplicationShutdown {
  private readonly logger = new Logger(CacheSignerService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly serverKey: ServerKeyService,
  ) {}

  /** Signs now and keeps renewing in the background. */
  async start(): Promise<void> {
    await this.renewDue();
    this.timer = setInterval(() => {
      this.renewDue().catch((error: unknown) => this.logger.warn(`cache signature renewal failed: ${(error as Error).message}`));
    }, REFRESH_EVERY_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Signs a window starting now for one certificate, in the caller's transaction, with the root
   * active in that transaction (or the given signer: a rotation signs with the key it creates). */
  async sign(
    db: Sql,
    cert: { serial: string; pem: string; invalidatedAt?: number },
    now = new Date(),
    signer?: Ed25519Signer,
  ): Promise<void> {
    const start = Math.floor(now.getTime() / 1000);
    signer ??= (await this.serverKey.activeRoot(db)).signer;
    const signed = signCacheableIdCert({
      idCertPem: cert.pem,
      serial: BigInt(cert.serial),
      cacheNotValidBefore: start,
      cacheNotValidAfter: start + CACHE_WINDOW_SECONDS,
      invalidatedAt: cert.invalidatedAt,
      signer,
    });
    if (cert.invalidatedAt !== undefined) {
      // Windows signed before the invalidation would tell caches the cert is still fine.
      db.defer(`DELETE FROM cache_signatures WHERE serial = $1 AND invalidated_at IS NULL`, [cert.serial]);
    }
    db.defer(
      `INSERT INTO cache_signatures (serial, cache_not_valid_before, cache_not_valid_after, invalidated_at, signature)
       VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
      [cert.serial, signed.cacheNotValidBefore, signed.cacheNotValidAfter, cert.invalidatedAt ?? null, signed.cacheSignature],
    );
  }

  /** An invalidated cert's cache information carries `invalidatedAt` (digest §3.7), signed at once
   * so that caches learn of the end before their window runs out. */
  async signInvalidation(db: Sql, serial: string, invalidatedAt: Date, signer?: Ed25519Signer): Promise<void> {
    const [{ pem }]: { pem: string }[] = await db.query('SELECT pem FROM id_certs WHERE serial = $1', [serial]);
    await this.sign(db, { serial, pem, invalidatedAt: Math.floor(invalidatedAt.getTime() / 1000) }, invalidatedAt, signer);
  }

  /** Every root and actor certificate still inside its validity whose freshest window ends soon. */
  async renewDue(now = new Date()): Promise<number> {
    return this.dataSource.transaction(async (manager) => {
      const db = sqlOf(manager);
      const due = await this.liveCerts(db, now, Math.floor(now.getTime() / 1000) + RENEW_BEFORE_SECONDS);
      if (due.length === 0) return 0;
      const { signer } = await this.serverKey.activeRoot(db);
      await this.signEach(db, due, now, signer);
      await db.flush();
      return due.length;
    });
  }

  /** A new server key: every certificate still inside its validity gets a window signed with it
   * now, and the windows signed with the old key go (caches check against the current key). */
  async resignAll(db: Sql, now: Date, signer: Ed25519Signer): Promise<void> {
    const certs = await this.liveCerts(db, now);
    db.defer(`DELETE FROM cache_signatures WHERE serial = ANY($1::numeric[])`, [certs.map((c) => c.serial)]);
    await this.signEach(db, certs, now, signer);
  }

  /** Roots and actor certs with notAfter after `now`; with `dueBefore` (UNIX s) only those without a
   * window lasting beyond it. */
  private liveCerts(db: Sql, now: Date, dueBefore?: number): Promise<LiveCert[]> {
    const due = dueBefore === undefined ? '' : 'AND NOT EXISTS (SELECT 1 FROM cache_signatures s WHERE s.serial = c.serial AND s.cache_not_valid_after > $2)';
    return db.query(
      `SELECT c.serial::text AS serial, c.pem, NULL::text AS invalidated_at FROM server_certs c WHERE c.not_after > $1 ${due}
       UNION ALL
       SELECT c.serial::text, c.pem, floor(extract(epoch FROM c.invalidated_at))::bigint::text FROM id_certs c WHERE c.not_after > $1 ${due}`,
      dueBefore === undefined ? [now] : [now, dueBefore],
    );
  }

  private async signEach(db: Sql, certs: readonly LiveCert[], now: Date, signer: Ed25519Signer): Promise<void> {
    for (const cert of certs) {
      const invalidatedAt = cert.invalidated_at === null ? undefined : Number(cert.invalidated_at);
      await this.sign(db, { serial: cert.serial, pem: cert.pem, invalidatedAt }, now, signer);
    }
  }
}

interface LiveCert {
  readonly serial: string;
  readonly pem: string;
  readonly invalidated_at: string | null;
}

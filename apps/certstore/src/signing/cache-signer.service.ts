import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { type Sql, sqlOf } from '@p2/event-store';
import { CLOCK, type Clock } from '@p2/platform';
import { signCacheableIdCert, type Ed25519Signer } from '@p2/polyproto';
import { certsNeedingWindows, dropCacheWindows, idCertPemLater, recordCacheWindow, type CacheableCert } from '@p2/read-models';
import { ServerKeyService } from './server-key.service';

/** Length of a cache window (docs/protocol.md#cache-information: 1–12 h is recommended) and when to renew before it ends. */
export const CACHE_WINDOW_SECONDS = 6 * 3600;
const RENEW_BEFORE_SECONDS = 2 * 3600;
const REFRESH_EVERY_MS = 5 * 60 * 1000;
/** Certificates renewed per transaction. After a long outage every live cert is due; one transaction
 * over all of them would hold their PEMs in memory and the inbox-order lock SHARED (taken by
 * `activeRoot`) for minutes, and a queued rotation would make every session request wait behind it.
 * Chunks bound memory and lock time: a rotation, or any shared waiter, waits at most one chunk. */
export const RENEW_CHUNK = 500;

/** Signs the 2025 cache information of certificates with the home server key, so the gateway can
 * serve `cacheSignature` without holding the key (docs/protocol.md#cache-information). */
@Injectable()
export class CacheSignerService implements OnApplicationShutdown {
  private readonly logger = new Logger(CacheSignerService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly serverKey: ServerKeyService,
    @Inject(CLOCK) private readonly clock: Clock,
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

  /** Signs a window starting at `now` for one certificate, in the caller's transaction, with the
   * root active in that transaction (or the given signer: a rotation signs with the key it creates). */
  async sign(db: Sql, cert: CacheableCert, now: Date, signer?: Ed25519Signer): Promise<void> {
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
    recordCacheWindow(db, cert.serial, {
      cacheNotValidBefore: signed.cacheNotValidBefore,
      cacheNotValidAfter: signed.cacheNotValidAfter,
      invalidatedAt: cert.invalidatedAt ?? null,
      signature: signed.cacheSignature,
    });
  }

  /** An invalidated cert's cache information carries `invalidatedAt` (docs/protocol.md#cache-information), signed at once
   * so that caches learn of the end before their window runs out. `pemLater`: the cert's PEM, when
   * the caller asked for it with an earlier statement. */
  async signInvalidation(db: Sql, serial: string, invalidatedAt: Date, signer?: Ed25519Signer, pemLater = idCertPemLater(db, serial)): Promise<void> {
    const pem = await pemLater.get();
    if (pem === undefined) throw new Error(`the invalidated ID-Cert ${serial} is missing from id_certs`);
    await this.sign(db, { serial, pem, invalidatedAt: Math.floor(invalidatedAt.getTime() / 1000) }, invalidatedAt, signer);
  }

  /** Every root and actor certificate still inside its validity whose freshest window ends soon,
   * `chunk` certificates per transaction (docs/protocol.md#cache-information). */
  async renewDue(now = this.clock.now(), chunk = RENEW_CHUNK): Promise<number> {
    if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`a renewal chunk holds at least one certificate, not ${chunk}`);
    const dueBefore = Math.floor(now.getTime() / 1000) + RENEW_BEFORE_SECONDS;
    let renewed = 0;
    let after: string | undefined;
    // Each chunk starts past the highest serial of the one before (serials are random, the cursor
    // only grows), so the loop ends.
    for (;;) {
      const due = await this.dataSource.transaction(async (manager) => {
        const db = sqlOf(manager);
        const certs = await certsNeedingWindows(db, now, dueBefore, { limit: chunk, after });
        if (certs.length === 0) return certs;
        const { signer } = await this.serverKey.activeRoot(db);
        await this.signEach(db, certs, now, signer);
        await db.flush();
        return certs;
      });
      renewed += due.length;
      if (due.length > 0) this.logger.debug(`renewed ${due.length} cache windows after serial ${after ?? '0'}`);
      if (due.length < chunk) return renewed;
      after = due[due.length - 1]!.serial;
    }
  }

  /** A new server key: every certificate still inside its validity gets a window signed with it
   * now, and the windows signed with the old key go (caches check against the current key). */
  async resignAll(db: Sql, now: Date, signer: Ed25519Signer): Promise<void> {
    const certs = await certsNeedingWindows(db, now);
    dropCacheWindows(db, certs.map((c) => c.serial));
    await this.signEach(db, certs, now, signer);
  }

  private async signEach(db: Sql, certs: readonly CacheableCert[], now: Date, signer: Ed25519Signer): Promise<void> {
    for (const cert of certs) await this.sign(db, cert, now, signer);
  }
}

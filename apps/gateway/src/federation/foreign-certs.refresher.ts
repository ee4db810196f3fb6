import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource, QueryRunner } from 'typeorm';
import type { AppConfig } from '@p2/config';
import { APP_CONFIG, CLOCK, type Clock } from '@p2/platform';
import { PolyprotoError, readIdCert } from '@p2/polyproto';
import { foreignCertsToCheck, foreignDomainsToCheck, type ForeignCertKey, type ForeignCertToCheck } from '@p2/read-models';
import { ApiError } from '../http/api-error';
import { ReadDatabase } from '../read-models/read-database';
import type { PresentedActorCert } from '../identify/presented-id-cert';
import { HomeServerUnreachable } from './federation-http.client';
import { ForeignCertVerifier } from './foreign-cert.verifier';
import { RefreshBackoff } from './refresh-backoff';
import { runInLanes, type Lanes } from './refresh-lanes';

/** Arbitrary constant: the advisory lock that elects the one gateway that refreshes. */
const REFRESHER_LOCK_KEY = 727_013;
/** Most domains and certs one round asks about; the rest wait for the next round. */
const ROUND_LIMIT = 200;
/** Longest wait before a domain or cert whose asking keeps failing is asked again. */
const MAX_BACKOFF_MS = 3_600_000;
/** Most failing domains, and certs, remembered (docs/protocol.md#federation-refresh). */
const BACKOFF_ENTRIES = 10_000;
/** Askings of one round at once, and of one domain among them (docs/protocol.md#federation-refresh). */
const REFRESH_LANES: Omit<Lanes, 'stop'> = { lanes: 8, perGroup: 2 };

/**
 * Keeps what this server trusts about other home servers current while their actors are signed in
 * (docs/protocol.md#federation-refresh): every P2_FEDERATION_REFRESH_SECONDS, the current root of
 * each domain with a live foreign session, and the status of each live foreign session's cert that
 * was not confirmed within the interval or since its root was replaced. An invalidation found this
 * way, or a cert its home server no longer lists, kills the session's token (the certstore records
 * it): that is an answer, not a failure to back off from. One gateway at a time does it: the one
 * holding a PostgreSQL advisory lock on a connection of its own, as the certstores elect the relay.
 */
@Injectable()
export class ForeignCertsRefresher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Federation');
  private timer?: NodeJS.Timeout;
  private leader?: QueryRunner;
  private running?: Promise<void>;
  private stopped = false;
  private readonly failedDomains: RefreshBackoff<string>;
  private readonly failedCerts: RefreshBackoff<ForeignCertKey>;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly db: ReadDatabase,
    private readonly verifier: ForeignCertVerifier,
  ) {
    const interval = config.federation.refreshSeconds * 1000;
    this.failedDomains = new RefreshBackoff((domain) => domain, interval, MAX_BACKOFF_MS, BACKOFF_ENTRIES);
    this.failedCerts = new RefreshBackoff((k) => JSON.stringify([k.federationId, k.sessionId, k.serial]), interval, MAX_BACKOFF_MS, BACKOFF_ENTRIES);
  }

  onApplicationBootstrap(): void {
    if (this.config.federation.enabled) this.schedule();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.resign();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round()
        .catch((error: unknown) => this.logger.error(`federation refresh failed: ${(error as Error).message}`))
        .finally(() => this.schedule());
    }, this.config.federation.refreshSeconds * 1000);
    this.timer.unref();
  }

  /** One round; public so that a test or an operator tool can run one now. `due`: ask again about
   * whatever was last asked before it (by default, one interval ago); `limit`: most domains, and
   * most certs, asked about. What failed is asked again only after its backoff, whatever `due` says. */
  async round(
    now = this.clock.now(),
    due = new Date(now.getTime() - this.config.federation.refreshSeconds * 1000),
    limit = ROUND_LIMIT,
  ): Promise<void> {
    if (!(await this.lead())) return;
    const lanes = { ...REFRESH_LANES, stop: () => this.stopped };
    const domains = await foreignDomainsToCheck(this.db, due, limit, this.failedDomains.waiting(now));
    await runInLanes(
      domains,
      (domain) => domain,
      async (domain) => {
        const ok = await this.quietly(`the root of ${domain}`, () => this.verifier.refreshCurrentRoot(domain, now));
        if (ok) this.failedDomains.succeeded(domain);
        else this.failedDomains.failed(domain, now);
      },
      lanes,
    );
    if (this.stopped) return;
    const certs = await foreignCertsToCheck(this.db, now, due, limit, this.failedCerts.waiting(now));
    // a home server that is slow to answer, not failing, holds two lanes: the other domains' certs
    // go on past its own, and an invalidation there is found in this round
    await runInLanes(certs, (item) => item.issuerDomain, (item) => this.recheck(item, now), lanes);
  }

  private async recheck(item: ForeignCertToCheck, now: Date): Promise<void> {
    const cert = readIdCert(item.pem, { target: 'actor' }) as PresentedActorCert;
    const key = { federationId: item.federationId, sessionId: item.sessionId, serial: item.serial };
    const what = `the cert ${item.serial} of ${item.federationId}`;
    // per cert, whatever failed: one session its home server answers badly for must not hold back the domain's others
    const ok = await this.quietly(what, async () => {
      const word = await this.verifier.recheck(cert, now);
      if (!word.listed || word.status.invalidated) {
        this.logger.log(`federation refresh: ${what}: ${word.listed ? 'invalidated' : 'no longer listed'} by its home server, recorded as invalidated`);
      }
    });
    if (ok) this.failedCerts.succeeded(key);
    else this.failedCerts.failed(key, now);
  }

  /** A failure to ask about one domain or cert does not stop the round; false when it failed. */
  private async quietly(what: string, check: () => Promise<unknown>): Promise<boolean> {
    try {
      await check();
      return true;
    } catch (error) {
      if (error instanceof HomeServerUnreachable) this.logger.warn(`federation refresh: ${what}: ${error.message}`);
      else if (error instanceof ApiError || error instanceof PolyprotoError) this.logger.log(`federation refresh: ${what}: ${error.message}`);
      else throw error;
      return false;
    }
  }

  /** Whether this gateway holds the refresher lock (taking it if free). */
  private async lead(): Promise<boolean> {
    if (this.leader) {
      try {
        await this.leader.query('SELECT 1');
        return true;
      } catch {
        await this.resign();
      }
    }
    const runner = this.dataSource.createQueryRunner();
    try {
      await runner.connect();
      const [row]: { locked: boolean }[] = await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [REFRESHER_LOCK_KEY]);
      if (row?.locked) {
        this.leader = runner;
        return true;
      }
    } catch (error) {
      this.logger.warn(`federation refresh: cannot take the refresher lock: ${(error as Error).message}`);
    }
    await runner.release();
    return false;
  }

  private async resign(): Promise<void> {
    const runner = this.leader;
    this.leader = undefined;
    if (!runner) return;
    await runner.query('SELECT pg_advisory_unlock($1)', [REFRESHER_LOCK_KEY]).catch(() => undefined);
    await runner.release().catch(() => undefined);
  }
}

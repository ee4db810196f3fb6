import { Injectable } from '@nestjs/common';
import {
  keyPackagesStream,
  type AddKeyPackages,
  type AddKeyPackagesData,
  type ClaimedKeyPackage,
  type ClaimKeyPackages,
  type ClaimKeyPackagesData,
  type KeyPackageData,
  type ReplaceLastResortKeyPackage,
  type ReplaceLastResortKeyPackageData,
  type ResultOf,
} from '@p2/contracts';
import { keyPackagesDecider, type KeyPackagesState } from '@p2/domain';
import { claimFacts, storedKeyPackages, uploadFacts } from '@p2/read-models';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';
import { KeyPackageStocks } from './key-package-stocks';

/** POST /keypackage/@me, PUT /keypackage_lr and GET /keypackage/:fid, on the actor's keypackages
 * stream: upload regular KeyPackages, replace the
 * last-resort one, and hand out one per active session (a write: what is handed out is consumed),
 * up to KEY_PACKAGE_LIMITS.claimBytes per claim.
 * The stream's state is read from the key_packages read model, with the version, in one snapshot
 * (it would grow without bound as a fold). */
@Injectable()
export class KeyPackagesHandler {
  private readonly stocks = new KeyPackageStocks();

  constructor(private readonly store: AggregateStore) {}

  async add(data: AddKeyPackagesData, ctx: CommandContext): Promise<ResultOf<AddKeyPackages>> {
    const { federationId, sessionId, serial, keyPackages } = data;
    const session = { sessionId, serial };
    const { loaded, serials, sessionActive, alreadyStored } = await this.uploadFacts(federationId, session, keyPackages.map((p) => p.initKey), ctx);
    const { events } = await this.store.decide(keyPackagesDecider, loaded, { type: 'AddKeyPackages', federationId, session, sessionActive, keyPackages, alreadyStored, at: ctx.at }, ctx);
    this.stocks.remember(loaded, serials, events, ctx);
    return { type: 'KeyPackagesAdded', federationId, sessionId, serial, count: keyPackages.length };
  }

  async replaceLastResort(data: ReplaceLastResortKeyPackageData, ctx: CommandContext): Promise<ResultOf<ReplaceLastResortKeyPackage>> {
    const { federationId, sessionId, serial, keyPackage } = data;
    const session = { sessionId, serial };
    const { loaded, serials, sessionActive, alreadyStored } = await this.uploadFacts(federationId, session, [keyPackage.initKey], ctx);
    const { events } = await this.store.decide(
      keyPackagesDecider,
      loaded,
      { type: 'ReplaceLastResortKeyPackage', federationId, session, sessionActive, keyPackage, alreadyStored, at: ctx.at },
      ctx,
    );
    this.stocks.remember(loaded, serials, events, ctx);
    return { type: 'LastResortKeyPackageReplaced', federationId, sessionId, serial };
  }

  /** What an upload is decided on; the stock comes from PostgreSQL only when the stream moved past
   * the version this certstore last committed it at. */
  private async uploadFacts(federationId: string, session: { sessionId: string; serial: string }, initKeys: readonly string[], ctx: CommandContext) {
    const streamId = keyPackagesStream(federationId);
    const known = this.stocks.get(streamId, session.serial, ctx);
    const facts = await uploadFacts(ctx.db, streamId, federationId, session, initKeys, ctx.at, known?.version);
    // read from PostgreSQL, the state holds the stock of the caller's cert (and of the certs kept at that version)
    const { state, serials }: { state: KeyPackagesState; serials: ReadonlySet<string> } = facts.state
      ? this.stocks.widen(streamId, session.serial, facts.version, facts.state, ctx)
      : known!;
    return { loaded: { streamId, version: facts.version, state }, serials, sessionActive: facts.sessionActive, alreadyStored: facts.alreadyStored };
  }

  async claim(data: ClaimKeyPackagesData, ctx: CommandContext): Promise<ResultOf<ClaimKeyPackages>> {
    const { federationId, requestedBy } = data;
    const streamId = keyPackagesStream(federationId);
    const { version, state, actorRegistered, activeSessions, packageBytes } = await claimFacts(ctx.db, streamId, federationId, ctx.at);
    const { events } = await this.store.decide(
      keyPackagesDecider,
      { streamId, version, state },
      { type: 'ClaimKeyPackages', federationId, actorRegistered, requestedBy, activeSessions, packageBytes, at: ctx.at },
      ctx,
    );
    const handedOut = events.flatMap((e) =>
      e.type === 'KeyPackageClaimed' || e.type === 'LastResortKeyPackageServed' ? [{ ...e.data, lastResort: e.type === 'LastResortKeyPackageServed' }] : [],
    );
    const bodies = await storedKeyPackages(ctx.db, handedOut.map((h) => h.initKey));
    const keyPackages: ClaimedKeyPackage[] = handedOut.map((h) => ({
      sessionId: h.sessionId,
      serial: h.serial,
      lastResort: h.lastResort,
      keyPackage: bodies.get(h.initKey) as KeyPackageData,
    }));
    return { type: 'KeyPackagesClaimed', federationId, keyPackages };
  }
}

import { Injectable } from '@nestjs/common';
import type {
  AddKeyPackages,
  AddKeyPackagesData,
  ClaimedKeyPackage,
  ClaimKeyPackages,
  ClaimKeyPackagesData,
  KeyPackageData,
  ReplaceLastResortKeyPackage,
  ReplaceLastResortKeyPackageData,
  ResultOf,
} from '@p2/contracts';
import { keyPackagesDecider } from '@p2/domain';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';
import { KeyPackagesRepository } from './key-packages.repository';

/** R6, R7 and R15 on the actor's keypackages stream: upload regular KeyPackages, replace the
 * last-resort one, and hand out one per active session (a write: what is handed out is consumed). */
@Injectable()
export class KeyPackagesHandler {
  constructor(
    private readonly store: AggregateStore,
    private readonly packages: KeyPackagesRepository,
  ) {}

  async add(data: AddKeyPackagesData, ctx: CommandContext): Promise<ResultOf<AddKeyPackages>> {
    const { federationId, sessionId, serial, keyPackages } = data;
    const session = { sessionId, serial };
    const facts = await this.packages.loadForUpload(ctx, federationId, session, keyPackages.map((p) => p.initKey));
    const { sessionActive, alreadyStored } = facts;
    await this.store.decide(keyPackagesDecider, facts.loaded, { type: 'AddKeyPackages', federationId, session, sessionActive, keyPackages, alreadyStored, at: ctx.at }, ctx);
    return { type: 'KeyPackagesAdded', federationId, sessionId, serial, count: keyPackages.length };
  }

  async replaceLastResort(data: ReplaceLastResortKeyPackageData, ctx: CommandContext): Promise<ResultOf<ReplaceLastResortKeyPackage>> {
    const { federationId, sessionId, serial, keyPackage } = data;
    const session = { sessionId, serial };
    const facts = await this.packages.loadForUpload(ctx, federationId, session, [keyPackage.initKey]);
    const { sessionActive, alreadyStored } = facts;
    await this.store.decide(
      keyPackagesDecider,
      facts.loaded,
      { type: 'ReplaceLastResortKeyPackage', federationId, session, sessionActive, keyPackage, alreadyStored, at: ctx.at },
      ctx,
    );
    return { type: 'LastResortKeyPackageReplaced', federationId, sessionId, serial };
  }

  async claim(data: ClaimKeyPackagesData, ctx: CommandContext): Promise<ResultOf<ClaimKeyPackages>> {
    const { federationId, requestedBy } = data;
    const facts = await this.packages.loadForClaim(ctx, federationId);
    const { actorRegistered, activeSessions } = facts;
    const { events } = await this.store.decide(keyPackagesDecider, facts.loaded, { type: 'ClaimKeyPackages', federationId, actorRegistered, requestedBy, activeSessions, at: ctx.at }, ctx);
    const handedOut = events.flatMap((e) =>
      e.type === 'KeyPackageClaimed' || e.type === 'LastResortKeyPackageServed' ? [{ ...e.data, lastResort: e.type === 'LastResortKeyPackageServed' }] : [],
    );
    const bodies = await this.packages.packages(ctx.db, handedOut.map((h) => h.initKey));
    const keyPackages: ClaimedKeyPackage[] = handedOut.map((h) => ({
      sessionId: h.sessionId,
      serial: h.serial,
      lastResort: h.lastResort,
      keyPackage: bodies.get(h.initKey) as KeyPackageData,
    }));
    return { type: 'KeyPackagesClaimed', federationId, keyPackages };
  }
}

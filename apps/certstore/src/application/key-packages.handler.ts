import { Injectable } from '@nestjs/common';
import type { ClaimedKeyPackage, CommandResult, KeyPackageData } from '@p2/contracts';
import { checkKeyPackageData, type SessionCert } from '@p2/domain';
import { parseFederationId, validateSessionId } from '@p2/polyproto';
import { MalformedCommandError, requireString, type CommandContext } from './command-context';
import { KeyPackagesRepository } from './key-packages.repository';

/** R6, R7 and R15 on the actor's keypackages stream: upload regular KeyPackages, replace the
 * last-resort one, and hand out one per active session (a write: what is handed out is consumed). */
@Injectable()
export class KeyPackagesHandler {
  constructor(private readonly packages: KeyPackagesRepository) {}

  async add(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const { federationId, session } = this.caller(data);
    const raw = (data as Record<string, unknown>).keyPackages;
    if (!Array.isArray(raw)) throw new MalformedCommandError('command field keyPackages must be an array');
    const keyPackages = raw.map((p, i) => checkKeyPackageData(p, `key package ${i}`));
    const command = {
      federationId,
      session,
      sessionActive: await this.packages.isActiveCert(ctx.manager, federationId, session, ctx.at),
      keyPackages,
      alreadyStored: await this.packages.storedInitKeys(ctx.manager, keyPackages.map((p) => p.initKey)),
      at: ctx.at,
    };
    const loaded = await this.packages.load(ctx.manager, federationId, [session.serial]);
    await this.packages.decideAndAppend(ctx, loaded, { type: 'AddKeyPackages', ...command });
    return { type: 'KeyPackagesAdded', federationId, sessionId: session.sessionId, serial: session.serial, count: keyPackages.length };
  }

  async replaceLastResort(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const { federationId, session } = this.caller(data);
    const keyPackage = checkKeyPackageData((data as Record<string, unknown>).keyPackage, 'keyPackage');
    const command = {
      federationId,
      session,
      sessionActive: await this.packages.isActiveCert(ctx.manager, federationId, session, ctx.at),
      keyPackage,
      alreadyStored: await this.packages.storedInitKeys(ctx.manager, [keyPackage.initKey]),
      at: ctx.at,
    };
    const loaded = await this.packages.load(ctx.manager, federationId, [session.serial]);
    await this.packages.decideAndAppend(ctx, loaded, { type: 'ReplaceLastResortKeyPackage', ...command });
    return { type: 'LastResortKeyPackageReplaced', federationId, sessionId: session.sessionId, serial: session.serial };
  }

  async claim(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const requestedBy = parseFederationId(requireString(data, 'requestedBy')).toString();
    const actorRegistered = await this.packages.actorRegistered(ctx.manager, federationId);
    const activeSessions = await this.packages.activeSessions(ctx.manager, federationId, ctx.at);
    const loaded = await this.packages.load(
      ctx.manager,
      federationId,
      activeSessions.map((s) => s.serial),
    );
    const events = await this.packages.decideAndAppend(ctx, loaded, {
      type: 'ClaimKeyPackages',
      federationId,
      actorRegistered,
      requestedBy,
      activeSessions,
      at: ctx.at,
    });
    const handedOut = events.flatMap((e) =>
      e.type === 'KeyPackageClaimed' || e.type === 'LastResortKeyPackageServed' ? [{ ...e.data, lastResort: e.type === 'LastResortKeyPackageServed' }] : [],
    );
    const bodies = await this.packages.packages(ctx.manager, handedOut.map((h) => h.initKey));
    const keyPackages: ClaimedKeyPackage[] = handedOut.map((h) => ({
      sessionId: h.sessionId,
      serial: h.serial,
      lastResort: h.lastResort,
      keyPackage: bodies.get(h.initKey) as KeyPackageData,
    }));
    return { type: 'KeyPackagesClaimed', federationId, keyPackages };
  }

  private caller(data: unknown): { federationId: string; session: SessionCert } {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const sessionId = validateSessionId(requireString(data, 'sessionId'));
    const serial = requireString(data, 'serial');
    if (!/^[1-9]\d{0,19}$/.test(serial)) throw new MalformedCommandError('serial must be a decimal serial number');
    return { federationId, session: { sessionId, serial } };
  }
}

import { Injectable } from '@nestjs/common';
import {
  foreignServerStream,
  foreignSessionStream,
  type AnnounceForeignIdCert,
  type AnnounceForeignIdCertData,
  type IdentifyForeignSession,
  type IdentifyForeignSessionData,
  type LogOutForeignSession,
  type LogOutForeignSessionData,
  type ResultOf,
} from '@p2/contracts';
import { CHALLENGE_REFUSAL, domainErrors, foreignServerDecider, foreignSessionDecider, type ForeignSessionState } from '@p2/domain';
import { ed25519VerifyStrict } from '@p2/polyproto';
import { AggregateStore, type LoadedStream } from '../aggregate.store';
import type { CommandContext } from '../command-context';
import { consumeChallenge } from '../consumed-challenges.store';

/**
 * Sessions of other home servers' actors (docs/protocol.md#foreign-sessions): sign-in with a
 * challenge, announcing a newer cert, logout. The cert must have been vouched for by its home
 * server (CacheForeignIdCert) recently enough, and after any change of its domain's root.
 */
@Injectable()
export class ForeignSessionsHandler {
  constructor(private readonly store: AggregateStore) {}

  /** As IdentifySession does for this server's actors: the session's decision first, then the
   * challenge, recorded as used in the same transaction; a refusal rolls both back. */
  async identify(data: IdentifyForeignSessionData, ctx: CommandContext): Promise<ResultOf<IdentifyForeignSession>> {
    const { federationId, sessionId, serial, challenge, challengeExpires, tokenHash } = data;
    const session = await this.store.load(foreignSessionDecider, foreignSessionStream(federationId, sessionId), ctx);
    const rootSupersededAt = await this.rootSupersededAt(session, serial, ctx);
    await this.store.decide(
      foreignSessionDecider,
      session,
      { type: 'IdentifyForeignSession', federationId, sessionId, serial, tokenHash, at: ctx.at, ...freshness(rootSupersededAt, data.vouchedAt) },
      ctx,
    );
    await consumeChallenge(ctx, challenge, challengeExpires);
    const publicKey = Buffer.from(session.state.certs[serial]!.publicKey, 'base64');
    if (!ed25519VerifyStrict(publicKey, Buffer.from(challenge, 'utf8'), Buffer.from(data.signature, 'hex'))) {
      throw domainErrors.challengeFailed(CHALLENGE_REFUSAL.badSignature);
    }
    return { type: 'ForeignSessionIdentified', federationId, sessionId, serial };
  }

  async announce(data: AnnounceForeignIdCertData, ctx: CommandContext): Promise<ResultOf<AnnounceForeignIdCert>> {
    const { federationId, sessionId, serial } = data;
    const session = await this.store.load(foreignSessionDecider, foreignSessionStream(federationId, sessionId), ctx);
    const rootSupersededAt = await this.rootSupersededAt(session, serial, ctx);
    await this.store.decide(
      foreignSessionDecider,
      session,
      { type: 'AnnounceForeignIdCert', federationId, sessionId, serial, at: ctx.at, ...freshness(rootSupersededAt, data.vouchedAt) },
      ctx,
    );
    return { type: 'ForeignIdCertAnnounced', federationId, sessionId, serial };
  }

  async logOut(data: LogOutForeignSessionData, ctx: CommandContext): Promise<ResultOf<LogOutForeignSession>> {
    const { federationId, sessionId, tokenHash } = data;
    await this.store.handle(foreignSessionDecider, foreignSessionStream(federationId, sessionId), { type: 'LogOutForeignSession', federationId, sessionId, tokenHash, at: ctx.at }, ctx);
    return { type: 'ForeignSessionLoggedOut', federationId, sessionId };
  }

  /** When the root that signed the cert stopped being its domain's current root, if it did. */
  private async rootSupersededAt(session: LoadedStream<ForeignSessionState>, serial: string, ctx: CommandContext): Promise<Date | undefined> {
    const cert = session.state.certs[serial];
    if (!cert) return undefined;
    const server = await this.store.load(foreignServerDecider, foreignServerStream(cert.issuerDomain), ctx);
    const supersededAt = server.state.roots[cert.rootSerial]?.supersededAt;
    return supersededAt === undefined ? undefined : new Date(supersededAt);
  }
}

/** What the decider judges a cert's last word by, besides its window: a change of its root after
 * it, and whether it is the word the request fetched (docs/protocol.md#federation-cache). */
function freshness(rootSupersededAt: Date | undefined, vouchedAt: string | undefined): { rootSupersededAt?: Date; vouchedAt?: string } {
  return { ...(rootSupersededAt ? { rootSupersededAt } : {}), ...(vouchedAt === undefined ? {} : { vouchedAt }) };
}

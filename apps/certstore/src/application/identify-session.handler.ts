import { Injectable } from '@nestjs/common';
import { actorStream, challengeStream, type IdentifySession, type IdentifySessionData, type ResultOf } from '@p2/contracts';
import { actorDecider, challengeDecider, domainErrors } from '@p2/domain';
import { ed25519VerifyStrict } from '@p2/polyproto';
import { idCertPublicKey } from '@p2/read-models';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';

/**
 * POST /session/identify. The gateway checked everything it could without writing; this is
 * the only writer, so it checks again at handling time, in the order of docs/protocol.md#identify,
 * and records both outcomes in the command's transaction:
 *   1. actor stream: the serial is the session's current, valid cert (else P2CORE_CERT_INVALIDATED)
 *      → SessionIdentified with the new token's hash (the projection replaces the cert's token);
 *   2. challenge stream: issued, unused, not expired now, binding matches (else
 *      P2CORE_CHALLENGE_FAILED), and the signature verifies (strict Ed25519) with the key of that
 *      cert as recorded at issuance → ChallengeConsumed, appended at the version read. Identify
 *      commands are keyed by their actors, so two of them racing for one challenge may run on two
 *      partitions: UNIQUE(stream, position) lets one commit and turns the other into a
 *      ConcurrencyError, whose retry then sees the challenge used.
 * A refusal anywhere rolls both appends back.
 */
@Injectable()
export class IdentifySessionHandler {
  constructor(private readonly store: AggregateStore) {}

  async execute(data: IdentifySessionData, ctx: CommandContext): Promise<ResultOf<IdentifySession>> {
    const { federationId, sessionId, serial, challenge, tokenHash } = data;
    await this.store.handle(actorDecider, actorStream(federationId), { type: 'IdentifySession', federationId, sessionId, serial, tokenHash, at: ctx.at }, ctx);

    const loaded = await this.store.load(challengeDecider, challengeStream(challenge), ctx);
    const events = challengeDecider.decide({ type: 'ConsumeChallenge', challenge, federationId, sessionId, serial, at: ctx.at }, loaded.state);
    const publicKey = await idCertPublicKey(ctx.db, { serial, federationId, sessionId });
    const signature = Buffer.from(data.signature, 'hex');
    if (!publicKey || !ed25519VerifyStrict(Buffer.from(publicKey, 'base64'), Buffer.from(challenge, 'utf8'), signature)) {
      throw domainErrors.challengeFailed("The signature does not verify with the ID-Cert's public key over the challenge string.");
    }
    await this.store.append(loaded, events, ctx);
    return { type: 'SessionIdentified', federationId, sessionId, serial };
  }
}

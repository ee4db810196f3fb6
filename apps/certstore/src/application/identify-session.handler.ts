import { Injectable } from '@nestjs/common';
import { actorStream, type IdentifySession, type IdentifySessionData, type ResultOf } from '@p2/contracts';
import { actorDecider, CHALLENGE_REFUSAL, domainErrors } from '@p2/domain';
import { ed25519VerifyStrict } from '@p2/polyproto';
import { idCertPublicKey } from '@p2/read-models';
import { AggregateStore } from './aggregate.store';
import type { CommandContext } from './command-context';
import { consumeChallenge } from './consumed-challenges.store';

/**
 * POST /session/identify. The gateway checked everything it could without writing (the challenge's
 * own signature included: its key is the gateways' alone); this is the only writer, so it checks
 * again at handling time, in the order of docs/protocol.md#identify, and records the outcome in the
 * command's transaction:
 *   1. actor stream: the serial is the session's current, valid cert (else P2CORE_CERT_INVALIDATED)
 *      → SessionIdentified with the new token's hash (the projection replaces the cert's token);
 *   2. the challenge: not expired now and not used before (recorded in consumed_challenges), and
 *      the signature verifies (strict Ed25519) with the key of that cert as recorded at issuance
 *      (else P2CORE_CHALLENGE_FAILED).
 * A refusal anywhere rolls both back, so only a successful identify reaches the event log.
 */
@Injectable()
export class IdentifySessionHandler {
  constructor(private readonly store: AggregateStore) {}

  async execute(data: IdentifySessionData, ctx: CommandContext): Promise<ResultOf<IdentifySession>> {
    const { federationId, sessionId, serial, challenge, challengeExpires, tokenHash } = data;
    await this.store.handle(actorDecider, actorStream(federationId), { type: 'IdentifySession', federationId, sessionId, serial, tokenHash, at: ctx.at }, ctx);

    await consumeChallenge(ctx, challenge, challengeExpires);
    const publicKey = await idCertPublicKey(ctx.db, { serial, federationId, sessionId });
    const signature = Buffer.from(data.signature, 'hex');
    if (!publicKey || !ed25519VerifyStrict(Buffer.from(publicKey, 'base64'), Buffer.from(challenge, 'utf8'), signature)) {
      throw domainErrors.challengeFailed(CHALLENGE_REFUSAL.badSignature);
    }
    return { type: 'SessionIdentified', federationId, sessionId, serial };
  }
}

import { Injectable } from '@nestjs/common';
import type { CommandResult } from '@p2/contracts';
import { challengeDecider, domainErrors } from '@p2/domain';
import { ed25519VerifyStrict, parseFederationId, validateSessionId } from '@p2/polyproto';
import { ActorRepository } from './actor.repository';
import { requireChallenge } from './challenge-command-fields';
import { ChallengeRepository } from './challenge.repository';
import { MalformedCommandError, requireString, requireTokenHash, type CommandContext } from './command-context';

const SERIAL_RE = /^[1-9]\d{0,48}$/;

/**
 * POST /session/identify (R18). The gateway checked everything it could without writing; this is
 * the only writer, so it checks again at handling time, in the order of digest §3.4, and records
 * both outcomes in ONE transaction:
 *   1. actor stream: the serial is the session's current, valid cert (else P2CORE_CERT_INVALIDATED)
 *      → SessionIdentified with the new token's hash (the projection replaces the cert's token);
 *   2. challenge stream: issued, unused, not expired now, binding matches (else
 *      P2CORE_CHALLENGE_FAILED), and the signature verifies (strict Ed25519) with the key of that
 *      cert as recorded at issuance → ChallengeConsumed, appended at the version read, so a second
 *      use of the challenge conflicts instead of giving out a second token.
 * A refusal anywhere rolls both appends back.
 */
@Injectable()
export class IdentifySessionHandler {
  constructor(
    private readonly actors: ActorRepository,
    private readonly challenges: ChallengeRepository,
  ) {}

  async execute(data: unknown, ctx: CommandContext): Promise<CommandResult> {
    const federationId = parseFederationId(requireString(data, 'federationId')).toString();
    const sessionId = validateSessionId(requireString(data, 'sessionId'));
    const serial = requireString(data, 'serial');
    if (!SERIAL_RE.test(serial)) throw new MalformedCommandError('serial must be a positive decimal number');
    const challenge = requireChallenge(data);
    const signatureHex = requireString(data, 'signature');
    if (!/^[0-9a-f]{128}$/.test(signatureHex)) throw new MalformedCommandError('signature must be 128 lowercase hex digits');
    const tokenHash = requireTokenHash(data);

    const actor = await this.actors.load(ctx.manager, federationId);
    await this.actors.decideAndAppend(ctx, actor, { type: 'IdentifySession', federationId, sessionId, serial, tokenHash, at: ctx.at });

    const loaded = await this.challenges.load(ctx.manager, challenge);
    const events = challengeDecider.decide({ type: 'ConsumeChallenge', challenge, federationId, sessionId, serial, at: ctx.at }, loaded.state);
    const [cert]: { public_key: string }[] = await ctx.manager.query(
      `SELECT public_key FROM id_certs WHERE serial = $1 AND federation_id = $2 AND session_id = $3`,
      [serial, federationId, sessionId],
    );
    const signature = Buffer.from(signatureHex, 'hex');
    if (!cert || !ed25519VerifyStrict(Buffer.from(cert.public_key, 'base64'), Buffer.from(challenge, 'utf8'), signature)) {
      throw domainErrors.challengeFailed("The signature does not verify with the ID-Cert's public key over the challenge string.");
    }
    await this.challenges.append(ctx, loaded, events);
    return { type: 'SessionIdentified', federationId, sessionId, serial };
  }
}

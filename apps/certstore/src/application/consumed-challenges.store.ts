import { CHALLENGE_REFUSAL, challengeExpired, domainErrors } from '@p2/domain';
import type { CommandContext } from './command-context';

/**
 * Records that an identify used a challenge (docs/protocol.md#challenge-strings), in the command's
 * transaction: with the identify's events, or not at all. The challenge must not have expired at
 * handling time (the gateway checked its signature and expiry before; this is the certstore's own
 * clock deciding again) and must not be in consumed_challenges yet.
 *
 * Identify commands are keyed by their actors, so two of them racing for one unbound challenge may
 * run on two partitions at once: the primary key settles it. ON CONFLICT DO NOTHING waits for the
 * other transaction's row; if that one commits, nothing is inserted here and this identify is
 * refused; if it rolls back, this one records the challenge. The row lives until the retention job
 * deletes it after its expiry (apps/certstore/src/retention).
 */
export async function consumeChallenge(ctx: CommandContext, challenge: string, expires: number): Promise<void> {
  if (challengeExpired(expires, ctx.at)) throw domainErrors.challengeFailed(CHALLENGE_REFUSAL.expired);
  const inserted: unknown[] = await ctx.db.query(
    `INSERT INTO consumed_challenges (challenge, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT (challenge) DO NOTHING RETURNING challenge`,
    [challenge, expires],
  );
  if (inserted.length === 0) throw domainErrors.challengeFailed(CHALLENGE_REFUSAL.used);
}

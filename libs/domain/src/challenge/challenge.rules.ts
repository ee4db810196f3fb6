/**
 * The rules of a challenge string (docs/protocol.md#challenge-strings). A challenge is not an
 * aggregate: GET /challenge writes nothing, the string itself states its expiry and binding under
 * the gateway's signature, and only its use is recorded (consumed_challenges, in the transaction of
 * the identify that used it). The gateway checks all of it first; the certstore checks expiry and
 * single use again when it decides, with the same words.
 */

/** What a challenge states about itself once the gateway has authenticated it, seen from one attempt to use it. */
export interface ChallengeTerms {
  /** UNIX seconds; the challenge is accepted up to and including this second */
  readonly expires: number;
  /** whether the challenge names an actor, and if so whether it is the one trying to use it */
  readonly actor: 'unbound' | 'this' | 'another';
  /** the same for the session ID */
  readonly session: 'unbound' | 'this' | 'another';
}

/** Why a challenge is refused, one sentence per rule (all `401 P2CORE_CHALLENGE_FAILED`). */
export const CHALLENGE_REFUSAL = {
  notIssued: 'This challenge was not issued by this server.',
  used: 'This challenge has already been used; request a new one.',
  expired: 'This challenge has expired; request a new one.',
  anotherActor: 'This challenge was issued for another actor.',
  anotherSession: 'This challenge was issued for another session.',
  badSignature: "The signature does not verify with the ID-Cert's public key over the challenge string.",
} as const;

/** Whether a challenge expiring at `expires` (UNIX seconds, inclusive) is dead at `at`. */
export function challengeExpired(expires: number, at: Date): boolean {
  return at.getTime() > expires * 1000;
}

/** Why an authenticated challenge may not be used at `at`, or undefined when it may (single use is
 * the certstore's to decide). */
export function challengeRefusal(terms: ChallengeTerms, at: Date): string | undefined {
  if (challengeExpired(terms.expires, at)) return CHALLENGE_REFUSAL.expired;
  if (terms.actor === 'another') return CHALLENGE_REFUSAL.anotherActor;
  if (terms.session === 'another') return CHALLENGE_REFUSAL.anotherSession;
  return undefined;
}

import { fail } from './errors';
import { floorToSecond, isEncodableDate } from './time';

/** How far notBefore is set back from "now" to absorb clock skew (docs/protocol.md#cert-validity). */
export const CLOCK_SKEW_SECONDS = 60;
/** Default actor certificate lifetime (docs/protocol.md#cert-validity). */
export const DEFAULT_ACTOR_CERT_LIFETIME_DAYS = 30;

/**
 * Validity of a new actor certificate (docs/protocol.md#cert-validity): notBefore = now − 60 s but never before the
 * root's notBefore; notAfter = min(now + lifetimeDays, root notAfter); whole seconds.
 * `follows` is the notBefore of the cert this one replaces in its session: the new one starts at
 * least a second later (but not after now), because verifiers tell a session's newer cert by a later
 * notBefore, and two certs issued within a second would otherwise tie.
 * Throws `VALIDITY_INVALID` when the window is empty (e.g. the root has expired).
 */
export function actorCertValidity(args: { now: Date; lifetimeDays: number; rootNotBefore: Date; rootNotAfter: Date; follows?: Date }): {
  notBefore: Date;
  notAfter: Date;
} {
  const { now, lifetimeDays, rootNotBefore, rootNotAfter, follows } = args ?? ({} as never);
  for (const [k, v] of [['now', now], ['rootNotBefore', rootNotBefore], ['rootNotAfter', rootNotAfter]] as const) {
    if (!isEncodableDate(v)) fail('VALIDITY_INVALID', k, 'a valid Date is required');
  }
  if (follows !== undefined && !isEncodableDate(follows)) fail('VALIDITY_INVALID', 'follows', 'a valid Date is required');
  if (typeof lifetimeDays !== 'number' || !Number.isFinite(lifetimeDays) || lifetimeDays <= 0) {
    fail('VALIDITY_INVALID', 'lifetimeDays', 'the lifetime is a positive number of days');
  }
  const t = now.getTime();
  const rootStart = Math.ceil(rootNotBefore.getTime() / 1000) * 1000;
  const earliest = Math.max(floorToSecond(new Date(t - CLOCK_SKEW_SECONDS * 1000)).getTime(), rootStart);
  const afterPrevious = follows === undefined ? earliest : floorToSecond(follows).getTime() + 1000;
  const notBefore = new Date(Math.max(earliest, Math.min(afterPrevious, floorToSecond(now).getTime())));
  const notAfter = floorToSecond(new Date(Math.min(t + lifetimeDays * 86_400_000, rootNotAfter.getTime())));
  if (notBefore.getTime() > notAfter.getTime()) {
    fail('VALIDITY_INVALID', 'validity', 'an actor certificate must lie inside the root certificate validity', 'the root is not valid at this time');
  }
  return { notBefore, notAfter };
}

/** Checks a notBefore/notAfter pair for a certificate to be issued; returns it floored to whole seconds. Throws `VALIDITY_INVALID`. */
export function checkedValidity(notBefore: Date, notAfter: Date): { notBefore: Date; notAfter: Date } {
  if (!isEncodableDate(notBefore)) fail('VALIDITY_INVALID', 'notBefore', 'a valid Date (years 0001–9999) is required');
  if (!isEncodableDate(notAfter)) fail('VALIDITY_INVALID', 'notAfter', 'a valid Date (years 0001–9999) is required');
  const nb = floorToSecond(notBefore);
  const na = floorToSecond(notAfter);
  if (nb.getTime() > na.getTime()) fail('VALIDITY_INVALID', 'notAfter', 'RFC 5280 §4.1.2.5: notAfter must not precede notBefore');
  return { notBefore: nb, notAfter: na };
}

/**
 * Whether `at` lies in a certificate's validity period: from notBefore through notAfter, both
 * inclusive (RFC 5280 §4.1.2.5), so a certificate is still valid at the instant notAfter and no
 * longer a moment later (docs/protocol.md#cert-validity). Without notBefore only the end is
 * checked. The SQL form of the same rule is `validAt` of libs/read-models.
 */
export function isWithinValidity(validity: { readonly notBefore?: Date; readonly notAfter: Date }, at: Date): boolean {
  const t = at.getTime();
  return (validity.notBefore === undefined || validity.notBefore.getTime() <= t) && t <= validity.notAfter.getTime();
}

/** X.509 Time (RFC 5280 §4.1.2.5): UTCTime for 1950–2049, GeneralizedTime otherwise; whole seconds, `Z`. */
import { DerReader, TAG, tlv, type Tlv } from './der';
import { fail } from './errors';

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** `date` floored to whole seconds. */
export function floorToSecond(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/**
 * The first and the last second any time this server reads, builds or stores may take:
 * 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, as UNIX seconds. A JS Date holds far more
 * (year ±275760), but outside years 0001–9999 its ISO string is one PostgreSQL's timestamptz
 * refuses ("+010000-…", "0000-…", "-000001-…"), and X.509 times stop at 9999 anyway. Every date a
 * foreign server sends (cert validity, cache windows, invalidation times) is held to this range
 * where it is read, so that nothing outside it reaches a command or the database
 * (docs/protocol.md#stored-times).
 */
export const EARLIEST_UNIX_SECONDS = -62_135_596_800;
export const LATEST_UNIX_SECONDS = 253_402_300_799;

/** True when `seconds` is a whole number of UNIX seconds inside {@link EARLIEST_UNIX_SECONDS}…{@link LATEST_UNIX_SECONDS}. */
export function isStorableUnixSeconds(seconds: unknown): seconds is number {
  return typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= EARLIEST_UNIX_SECONDS && seconds <= LATEST_UNIX_SECONDS;
}

/** True when `date` is a real date in years 0001–9999 (see {@link LATEST_UNIX_SECONDS}): what X.509
 * and PostgreSQL both carry. */
export function isEncodableDate(date: unknown): date is Date {
  if (!(date instanceof Date)) return false;
  const t = date.getTime();
  if (!Number.isFinite(t)) return false;
  return t >= EARLIEST_UNIX_SECONDS * 1000 && t < (LATEST_UNIX_SECONDS + 1) * 1000;
}

/** DER Time for `date` (floored to the second). */
export function encodeTime(date: Date): Buffer {
  const y = date.getUTCFullYear();
  const rest = `${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`;
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${pad(y % 100)}${rest}`, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${pad(y, 4)}${rest}`, 'latin1'));
}

/** Reads a UTCTime (`YYMMDDHHMMSSZ`) or GeneralizedTime (`YYYYMMDDHHMMSSZ`); other forms are refused. */
export function readTime(r: DerReader, t: Tlv, field: string): Date {
  const rule = 'RFC 5280 §4.1.2.5: UTCTime YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ';
  const len = t.end - t.contentStart;
  let s: string;
  if (t.tag === TAG.UTC_TIME && len === 13) s = Buffer.from(r.content(t)).toString('latin1');
  else if (t.tag === TAG.GENERALIZED_TIME && len === 15) s = Buffer.from(r.content(t)).toString('latin1');
  else return fail(r.code, field, rule);
  if (!/^\d+Z$/.test(s)) fail(r.code, field, rule);
  let year: number;
  let i: number;
  if (len === 13) {
    const yy = Number(s.slice(0, 2));
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    i = 2;
  } else {
    year = Number(s.slice(0, 4));
    i = 4;
  }
  const num = (k: number): number => Number(s.slice(i + 2 * k, i + 2 * k + 2));
  const [mo, d, h, mi, se] = [num(0), num(1), num(2), num(3), num(4)];
  const date = new Date(0);
  date.setUTCFullYear(year, mo - 1, d);
  date.setUTCHours(h, mi, se, 0);
  if (
    mo < 1 || mo > 12 || h > 23 || mi > 59 || se > 59 ||
    date.getUTCFullYear() !== year || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d
  ) {
    fail(r.code, field, rule, 'not a calendar date');
  }
  // GeneralizedTime can say year 0000, which no timestamptz holds: a cert of this server never
  // has it, and a foreign one that does would be refused by the database after it was believed
  if (!isEncodableDate(date)) fail(r.code, field, `${rule}, years 0001–9999`, 'year 0000');
  return date;
}

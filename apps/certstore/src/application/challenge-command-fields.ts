import { MalformedCommandError, requireString } from './command-context';

/** What GET /challenge hands out (64 characters) and any challenge length the spec allows (digest §3.4). */
const CHALLENGE_RE = /^[A-Za-z0-9]{32,256}$/;

export function requireChallenge(data: unknown): string {
  const value = requireString(data, 'challenge');
  if (!CHALLENGE_RE.test(value)) throw new MalformedCommandError('challenge must be 32 to 256 alphanumeric characters');
  return value;
}

/** A string field that may be absent; present but empty or not a string is malformed. */
export function optionalString(data: unknown, field: string): string | undefined {
  const value = (data as Record<string, unknown> | null)?.[field];
  if (value === undefined || value === null) return undefined;
  return requireString(data, field);
}

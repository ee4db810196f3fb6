import { fail, quote } from './errors';

/** A federation ID `local@domain`, already lowercased and validated. */
export interface FederationId {
  readonly localName: string;
  readonly domain: string;
  /** `local@domain` */
  toString(): string;
}

const LOCAL_NAME = /^[a-z0-9._%+-]{1,64}$/;
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

class FederationIdValue implements FederationId {
  constructor(
    readonly localName: string,
    readonly domain: string,
  ) {
    Object.freeze(this);
  }

  toString(): string {
    return `${this.localName}@${this.domain}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Builds a FederationId from parts that the caller has already normalized. */
export function federationIdOf(localName: string, domain: string): FederationId {
  return new FederationIdValue(localName, domain);
}

/**
 * Lowercases and validates an actor's local name (`^[a-z0-9._%+-]{1,64}$`, docs/protocol.md#actor-names).
 * Non-ASCII input is refused before lowercasing (so e.g. the Kelvin sign cannot become `k`).
 * Throws `ACTOR_NAME_INVALID`.
 */
export function normalizeLocalName(input: string): string {
  if (typeof input !== 'string') fail('ACTOR_NAME_INVALID', 'actorName', 'the actor name must be a string');
  if (!isAscii(input) || !LOCAL_NAME.test(input.toLowerCase())) {
    fail('ACTOR_NAME_INVALID', 'actorName', 'actor names match ^[a-z0-9._%+-]{1,64}$ after lowercasing', `got ${quote(input)}`);
  }
  return input.toLowerCase();
}

/**
 * Lowercases and validates a domain name: ASCII only (IDNs in punycode), dot-separated labels of
 * 1–63 letters, digits and inner hyphens, at most 253 characters, no trailing dot.
 * Throws `DOMAIN_INVALID`.
 */
export function normalizeDomain(input: string): string {
  const rule = 'a domain is ASCII DNS labels [a-z0-9-] (1–63 chars, no edge hyphen) joined by dots';
  if (typeof input !== 'string') fail('DOMAIN_INVALID', 'domain', rule, 'not a string');
  if (!isAscii(input) || input.length === 0 || input.length > 253) fail('DOMAIN_INVALID', 'domain', rule, `got ${quote(input)}`);
  const domain = input.toLowerCase();
  for (const label of domain.split('.')) {
    if (!LABEL.test(label)) fail('DOMAIN_INVALID', 'domain', rule, `got ${quote(input)}`);
  }
  return domain;
}

/**
 * Parses `local@domain`, lowercasing both parts (docs/protocol.md#federation-ids: federation IDs are
 * case-insensitive; the reference library only matches lowercase). Non-ASCII is refused.
 * Throws `FEDERATION_ID_INVALID`.
 */
export function parseFederationId(input: string): FederationId {
  const rule = 'a federation ID is local@domain, ^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(\\.[a-z0-9-]+)*$ after lowercasing';
  if (typeof input !== 'string') return fail('FEDERATION_ID_INVALID', 'federationId', rule, 'not a string');
  if (input.length > 320 || !isAscii(input)) fail('FEDERATION_ID_INVALID', 'federationId', rule, `got ${quote(input)}`);
  const at = input.indexOf('@');
  if (at < 0 || at !== input.lastIndexOf('@')) fail('FEDERATION_ID_INVALID', 'federationId', rule, `got ${quote(input)}`);
  const local = input.slice(0, at).toLowerCase();
  if (!LOCAL_NAME.test(local)) fail('FEDERATION_ID_INVALID', 'federationId', rule, `bad local part in ${quote(input)}`);
  let domain: string;
  try {
    domain = normalizeDomain(input.slice(at + 1));
  } catch {
    return fail('FEDERATION_ID_INVALID', 'federationId', rule, `bad domain in ${quote(input)}`);
  }
  return new FederationIdValue(local, domain);
}

import { Exclude, Transform, Type } from 'class-transformer';
import { ValidateBy, buildMessage, type ValidationOptions } from 'class-validator';
import { isCanonicalSerial, normalizeDomain, normalizeLocalName, parseDottedOid, parseFederationId, validateSessionId } from '@p2/polyproto';
import { isCanonicalBase64, isKeyPackageLabel, decodeBase64, isStorableText, storableJsonProblem } from './key-package.rules';

/** Field rules of the command contract (class-validator decorators). A command carries values in
 * their canonical form only: the gateway normalises what clients send, and the certstore refuses
 * anything else at its boundary rather than normalising a second time. */

/** hex SHA-256 of a session token: the only form of a token a command may carry. */
export const TOKEN_HASH_PATTERN = /^[0-9a-f]{64}$/;
/** What GET /challenge hands out (64 characters) and any challenge length the spec allows (docs/protocol.md#challenge-strings). */
export const CHALLENGE_PATTERN = /^[A-Za-z0-9]{32,256}$/;
/** hex of a 64-byte Ed25519 signature. */
export const SIGNATURE_PATTERN = /^[0-9a-f]{128}$/;
/** The largest base64 certificate a command may carry (an ID-Cert is well under 1 KiB of DER). */
export const MAX_CERT_BASE64 = 16384;

function rule(name: string, test: (value: unknown) => boolean, message: string, options?: ValidationOptions): PropertyDecorator {
  return ValidateBy({ name, validator: { validate: test, defaultMessage: buildMessage((each) => `${each}$property ${message}`, options) } }, options);
}

/** `normalise(value)` returns `value` itself: valid and already canonical. */
function canonical(normalise: (value: string) => string): (value: unknown) => value is string {
  return (value): value is string => {
    if (typeof value !== 'string') return false;
    try {
      return normalise(value) === value;
    } catch {
      return false;
    }
  };
}

/* The tests of the rules below, exported so that the codec's plain checks (command-plain-checks.ts)
 * test a field with the very function its decorator tests it with. */
export const isCanonicalFederationId = canonical((v) => parseFederationId(v).toString());
export const isCanonicalSessionId = canonical(validateSessionId);
export const isCanonicalDottedOid = canonical((v) => parseDottedOid(v));
export const isTokenHash = (v: unknown): v is string => typeof v === 'string' && TOKEN_HASH_PATTERN.test(v);
export const isNonEmptyStorableText = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && isStorableText(v);
export const isStorableJson = (v: unknown): boolean => v !== undefined && storableJsonProblem(v) === undefined;
export const isBase64Text = (v: unknown, maxChars: number): v is string => typeof v === 'string' && v.length <= maxChars && decodeBase64(v) !== undefined;

/** `local@domain`, lowercase (docs/protocol.md#federation-ids). */
export const IsFederationId = (options?: ValidationOptions) =>
  rule('isFederationId', isCanonicalFederationId, 'must be a federation ID in canonical form (local@domain, lowercase)', options);

/** Who asked for an administrative command: an administrator's federation ID, or `operator:<user>`
 * for an operator at the command line (p2ctl), who has no actor. */
export const OPERATOR_PATTERN = /^operator:[a-z0-9._-]{1,64}$/;

export const IsRequester = (options?: ValidationOptions) =>
  rule(
    'isRequester',
    (v) => (typeof v === 'string' && OPERATOR_PATTERN.test(v)) || isCanonicalFederationId(v),
    'must be a federation ID in canonical form or operator:<user>',
    options,
  );

/** A DNS name, lowercase (docs/protocol.md#federation-ids). */
export const IsDomain = (options?: ValidationOptions) => rule('isDomain', canonical(normalizeDomain), 'must be a domain name in canonical form (lowercase)', options);

/** An actor's local name, lowercase (docs/protocol.md#actor-names). */
export const IsLocalName = (options?: ValidationOptions) =>
  rule('isLocalName', canonical(normalizeLocalName), 'must be a lowercase actor name', options);

/** 1 to 32 printable ASCII characters (docs/protocol.md#session-ids). */
export const IsSessionId = (options?: ValidationOptions) => rule('isSessionId', isCanonicalSessionId, 'must be a session ID', options);

/** A serial as commands carry it: canonical decimal, at most 20 DER octets (docs/protocol.md#serials). */
export const IsSerial = (options?: ValidationOptions) =>
  rule('isSerial', isCanonicalSerial, 'must be a positive decimal serial of at most 20 octets', options);

export const IsTokenHash = (options?: ValidationOptions) =>
  rule('isTokenHash', isTokenHash, 'must be 64 lowercase hex digits (a token hash)', options);

export const IsChallenge = (options?: ValidationOptions) =>
  rule('isChallenge', (v) => typeof v === 'string' && CHALLENGE_PATTERN.test(v), 'must be 32 to 256 alphanumeric characters', options);

export const IsDottedOid = (options?: ValidationOptions) => rule('isDottedOid', isCanonicalDottedOid, 'must be a dotted OID', options);

/** Text PostgreSQL stores as given (no NUL, no unpaired surrogate), not empty. */
export const IsStorableText = (options?: ValidationOptions) =>
  rule('isStorableText', isNonEmptyStorableText, 'must be a non-empty string without NUL characters or unpaired surrogates', options);

/** `listed: false` of CacheForeignIdCertData: the home server answered and lists no entry for the
 * cert. Only `false` (listed is said by leaving it out), and only with `invalidated: true` (what it
 * is recorded as, docs/protocol.md#foreign-invalidation) and no `cache`: a signed window belongs to
 * an entry, and there is none. */
export const IsUnlistedStatement = (options?: ValidationOptions) =>
  ValidateBy(
    {
      name: 'isUnlistedStatement',
      validator: {
        validate: (value, args) => {
          const data = args?.object as { invalidated?: unknown; cache?: unknown } | undefined;
          return value === false && data?.invalidated === true && (data.cache === undefined || data.cache === null);
        },
        defaultMessage: buildMessage((each) => `${each}$property may only be false, with invalidated true and no cache`, options),
      },
    },
    options,
  );

/** Names of the fields marked OpaqueJson, on any command class. */
export const OPAQUE_JSON_FIELDS = new Set<string>();

/**
 * A field of any JSON that is stored and handed out as the client sent it (a KeyPackage's
 * `extensions`): its value is taken as parsed, not copied by class-transformer, which skips keys
 * named like Object.prototype members (`constructor`, `toString`, `__proto__`) and would lose them.
 * JSON.parse makes such keys own data properties, and nothing assigns them through a setter, so
 * keeping them is no prototype pollution. The command codec does not refuse such keys inside it.
 */
export const OpaqueJson = (): PropertyDecorator => (target, property) => {
  OPAQUE_JSON_FIELDS.add(String(property));
  // The type stops class-transformer's walk at the value (it copies no key of an OpaqueValue), which
  // would otherwise read a `constructor` key as the class of an object and throw; the copy it makes
  // is then replaced by the value as received.
  Type(() => OpaqueValue)(target, property);
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => (Object.hasOwn(obj, key) ? obj[key] : undefined))(target, property);
};

/** What class-transformer makes of an opaque value before OpaqueJson puts the value back: nothing. */
@Exclude()
class OpaqueValue {}

/** Any JSON value jsonb stores as given (null included); `undefined` is not a value. */
export const IsStorableJson = (options?: ValidationOptions) =>
  rule('isStorableJson', isStorableJson, 'must be JSON that PostgreSQL can store (no NUL, bounded depth and size)', options);

export const IsKeyPackageLabel = (options?: ValidationOptions) =>
  rule('isKeyPackageLabel', isKeyPackageLabel, 'must be 1 to 64 printable ASCII characters', options);

export const IsCanonicalBase64 = (maxChars: number, options?: ValidationOptions) =>
  rule('isCanonicalBase64', (v) => isCanonicalBase64(v, maxChars), `must be standard padded base64 of at most ${maxChars} characters`, options);

/** Standard or URL-safe base64, padding optional, as a client may send it. */
export const IsBase64Text = (maxChars: number, options?: ValidationOptions) =>
  rule('isBase64Text', (v) => isBase64Text(v, maxChars), `must be non-empty base64 of at most ${maxChars} characters`, options);

import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from './api-error';
import { AddRouteConfig } from './route-config';
import { ERROR_CODE, PLAIN_DATA_MAX_DEPTH } from '@p2/contracts';

const BODY_FIELD = 'bodyField';
const WHOLE_BODY = 'wholeBody';

/** The route also takes its one field as the whole body, a text (raw PEM, base64 DER) or a JSON
 * string, as polyproto-rs sends certificates and CSRs (docs/protocol.md#pem-fields); its DTO then
 * sees `{[field]: body}`. */
export const RawBodyAs = (field: string) => AddRouteConfig({ [BODY_FIELD]: field });

const LIST_FIELD = 'listBodyField';
const LIST_ALIASES = 'listBodyAliases';

/** The route configuration of {@link ListBodyAs}. */
export function listBodyConfig(field: string, aliases: readonly string[] = []): Record<string, unknown> {
  return { [LIST_FIELD]: field, [LIST_ALIASES]: aliases };
}

/** A body that is a bare array or a lone value (polyproto-rs sends serials so) is read as this
 * query field, when the query does not give it. `aliases` are the other names the field is read
 * under (AlsoNamed). */
export const ListBodyAs = (field: string, aliases: readonly string[] = []) => AddRouteConfig(listBodyConfig(field, aliases));

/** The route's whole body, whatever it is (an array of KeyPackages, one KeyPackage), is its DTO's
 * one field: the DTO sees `{[field]: body}`. */
export const WholeBodyAs = (field: string) => AddRouteConfig({ [BODY_FIELD]: field, [WHOLE_BODY]: true });

const EXACT_INTEGERS = 'exactIntegerFields';

/** The route reads integers beyond 2^53 − 1 exactly in these body fields (serials), or keeps what
 * they hold as sent (a KeyPackage's `extensions`): a literal that large inside them is read as its
 * decimal string. A ListBodyAs body that is a bare array or a lone value counts as its list field. */
export const ExactIntegersIn = (fields: readonly string[]) => AddRouteConfig(exactIntegersConfig(fields));

/** The route configuration of {@link ExactIntegersIn}. */
export function exactIntegersConfig(fields: readonly string[]): Record<string, unknown> {
  return { [EXACT_INTEGERS]: fields };
}

/** Where the route reads big integer literals exactly (ExactIntegersIn); undefined when nowhere. */
function exactIntegerScope(config: Record<string, unknown> | undefined): ExactIntegerScope | undefined {
  const fields = config?.[EXACT_INTEGERS] as readonly string[] | undefined;
  if (fields === undefined) return undefined;
  const listField = config?.[LIST_FIELD];
  return { fields, wholeBody: typeof listField === 'string' && fields.includes(listField) };
}

/** Strict: an invalid byte is a 400, not a silent U+FFFD in a name or a PEM. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Leniency (docs/protocol.md#lenient-bodies): polyproto-rs sends JSON without Content-Type and with bodies on GET and
 * DELETE. Every body is read as text whatever its type, then parsed as JSON when it looks like JSON;
 * anything else (raw PEM, base64) stays a string for the route to interpret. */
export function installLenientBodyParsing(fastify: FastifyInstance): void {
  fastify.addHttpMethod('GET', { hasBody: true, overrideExisting: true });
  // Fastify answers a Content-Type it cannot parse (`;;;`) with a 415 before any parser runs; the
  // reader promises to read every body whatever its type, so such a header counts as none
  // (`request.mediaType` is Fastify's own reading: undefined for a header it cannot parse).
  // a callback hook, not an async one: no promise per request
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.headers['content-type'] !== undefined && request.mediaType === undefined) delete request.raw.headers['content-type'];
    done();
  });
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = UTF8.decode(body as Buffer).trim();
    } catch {
      return done(new ApiError(400, ERROR_CODE.malformedRequest, 'The request body is not valid UTF-8.'), undefined);
    }
    if (text === '') return done(null, undefined);
    const mediaType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const looksJson = mediaType.endsWith('json') || /^[[{"]/.test(text) || /^-?\d+$/.test(text) || text === 'null';
    if (!looksJson) return done(null, text);
    // JSON.parse takes any depth, but class-transformer, class-validator and JSON.stringify recurse
    // and a few tens of kB of brackets exhaust their stack: a RangeError the filter can only call a 500
    if (nestsDeeperThan(text, MAX_BODY_DEPTH)) {
      return done(new ApiError(400, ERROR_CODE.malformedRequest, `The request body nests arrays and objects deeper than ${MAX_BODY_DEPTH} levels.`), undefined);
    }
    const scope = exactIntegerScope(request.routeOptions.config as unknown as Record<string, unknown> | undefined);
    try {
      done(null, JSON.parse(scope === undefined ? text : quoteUnsafeIntegers(text, scope)));
    } catch {
      done(new ApiError(400, ERROR_CODE.malformedRequest, 'The request body is not valid JSON.'), undefined);
    }
  });
  // A parameter may come in the query or in a JSON object body, the query winning
  // (docs/protocol.md#query-wins): the body's fields are read as query fields the query lacks, so a
  // route declares its parameters once, as a query DTO.
  // a callback hook, not an async one: no promise per request
  fastify.addHook('preValidation', (request, _reply, done) => {
    placeBody(request);
    done();
  });
}

/** The deepest body a route could accept (a KeyPackage's `extensions`, the deepest field, is limited
 * to depth 32 inside a list of packages); the plain checks leave deeper values to the full pipe. */
export const MAX_BODY_DEPTH = PLAIN_DATA_MAX_DEPTH;

/** Whether the JSON text opens more than `max` arrays and objects inside one another (brackets
 * inside strings do not count). Run on the text, before anything recursive sees the value. */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) i = closingQuote(text, i);
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** Where the JSON string that opens at `open` ends: its closing quote, or the end of the text. */
function closingQuote(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++; // backslash: skip the escaped character
    else if (c === 0x22) return i;
  }
  return text.length;
}

function placeBody(request: FastifyRequest): void {
  const config = request.routeOptions.config as unknown as Record<string, unknown> | undefined;
  const field = config?.[BODY_FIELD];
  if (typeof field === 'string' && (typeof request.body === 'string' || config?.[WHOLE_BODY] === true)) {
    request.body = { [field]: request.body };
    return;
  }
  const body = request.body;
  const query = request.query as Record<string, unknown>;
  const listField = config?.[LIST_FIELD];
  // the list's other names count as the list: the query wins whichever name each side used
  const listNames = typeof listField === 'string' ? [listField, ...((config?.[LIST_ALIASES] as readonly string[] | undefined) ?? [])] : [];
  const listInQuery = listNames.some((name) => query[name] !== undefined);
  if (typeof listField === 'string' && body !== undefined && body !== null && (Array.isArray(body) || typeof body !== 'object')) {
    if (!listInQuery) request.query = { [listField]: body, ...query };
    return;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  if (!listInQuery) {
    request.query = { ...(body as Record<string, unknown>), ...query };
    return;
  }
  const fields = { ...(body as Record<string, unknown>) };
  for (const name of listNames) delete fields[name];
  request.query = { ...fields, ...query };
}

/** Where a body's integer literals beyond 2^53 − 1 are read as exact decimal strings: inside the
 * values of these fields (object keys, at any depth), and, when `wholeBody`, anywhere in a body that
 * is a bare array or a lone value (a body that is an object is read by its fields). */
export interface ExactIntegerScope {
  readonly fields: readonly string[];
  readonly wholeBody: boolean;
}

/** A JSON number literal where it starts (sticky: matched in place, the text is never sliced). */
const NUMBER_LITERAL = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Serials are 64-bit (docs/protocol.md#serials) and clients that type them as u64 send JSON numbers
 * a double cannot hold. A serial input also takes a decimal string, so an integer literal beyond
 * 2^53 − 1 inside the `scope` is read as that string: exact. Outside it the literal stays a number,
 * so a text field refuses it as it refuses a small one, not as the string it would have become
 * (docs/protocol.md#integers). Only well-formed literals in value positions outside strings are
 * rewritten, so invalid JSON stays invalid (`{12345678901234567890:1}` included). One pass, each
 * character looked at once, whatever the length of a literal.
 */
export function quoteUnsafeIntegers(text: string, scope: ExactIntegerScope): string {
  if (!/\d{16}/.test(text)) return text;
  // per open array or object: whether it is one, and whether everything inside it is read exactly
  const open: { object: boolean; exact: boolean }[] = [];
  let keyExact = false;
  let expectKey = false;
  const exactHere = (): boolean => {
    const top = open[open.length - 1];
    return top === undefined ? scope.wholeBody : top.exact || (top.object && keyExact);
  };
  let out = '';
  let copiedUpTo = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const close = closingQuote(text, i);
      if (expectKey && open[open.length - 1]?.object === true) keyExact = scope.fields.includes(keyOf(text.slice(i, close + 1)));
      i = close;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      // a body that is an object is read field by field, even where the whole body may be the list
      open.push({ object: c === 0x7b, exact: open.length === 0 && c === 0x7b ? false : exactHere() });
      expectKey = c === 0x7b;
      continue;
    }
    if (c === 0x7d || c === 0x5d) {
      open.pop();
      expectKey = false;
      continue;
    }
    if (c === 0x2c || c === 0x3a) {
      expectKey = c === 0x2c && open[open.length - 1]?.object === true;
      continue;
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue;
    NUMBER_LITERAL.lastIndex = i;
    const token = NUMBER_LITERAL.exec(text)?.[0] ?? text[i]!;
    const valuePosition = !(expectKey && open[open.length - 1]?.object === true);
    if (valuePosition && exactHere() && /^-?[1-9]\d{15,}$/.test(token) && !Number.isSafeInteger(Number(token)) && !/[\d.eE]/.test(text[i + token.length] ?? '')) {
      out += `${text.slice(copiedUpTo, i)}"${token}"`;
      copiedUpTo = i + token.length;
    }
    i += token.length - 1;
  }
  return copiedUpTo === 0 ? text : out + text.slice(copiedUpTo);
}

/** A key as JSON.parse will read it (escapes resolved); a malformed one cannot name a field. */
function keyOf(quoted: string): string {
  if (!quoted.includes('\\')) return quoted.slice(1, -1);
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return '';
  }
}

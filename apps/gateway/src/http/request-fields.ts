import { badRequest } from './api-error';

export type Fields = Record<string, unknown>;

/** The body as an object of fields ({} when absent); a non-object body is a 400. */
export function bodyObject(body: unknown): Fields {
  if (body === undefined || body === null || body === '') return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The request body must be a JSON object.');
  return body as Fields;
}

export function requiredString(fields: Fields, name: string, code?: string): string {
  const value = fields[name];
  if (typeof value !== 'string' || value.length === 0) throw badRequest(`The field "${name}" is required and must be a string.`, code);
  return value;
}

export function optionalObject(fields: Fields, name: string): Fields {
  const value = fields[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw badRequest(`The field "${name}" must be an object.`);
  return value as Fields;
}

/** The last second a JavaScript date (and so the read models' queries) can hold: 8.64e15 ms. */
export const MAX_UNIX_SECONDS = 8_640_000_000_000;

/** A time in UNIX seconds: a JSON number or a decimal string (docs/protocol.md#timestamps); the
 * query form wins over the body. Beyond what a date holds is a 400 like any other malformed value. */
export function optionalUnixSeconds(query: Fields, body: Fields, name: string): number | undefined {
  const raw = query[name] ?? body[name];
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  if (!/^\d{1,16}$/.test(text) || Number(text) > MAX_UNIX_SECONDS) {
    throw badRequest(`The field "${name}" must be a time in UNIX seconds from 0 to ${MAX_UNIX_SECONDS} (a JSON number or a decimal string).`);
  }
  return Number(text);
}

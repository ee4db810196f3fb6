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

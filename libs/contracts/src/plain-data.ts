/**
 * Tests for hand-written checks that stand in for class-transformer + class-validator (the command
 * codec's plain checks, the gateway's registerPlainCheck): such a check returns what the full path
 * would return only for values the full path copies unchanged, so it accepts nothing else.
 */

/** Deeper values are left to the full path, so that a walk never exhausts the stack (the full
 * path turns such values down anyway: jsonb's depth limit is 32). */
export const PLAIN_DATA_MAX_DEPTH = 64;

/** An object as JSON.parse makes them: of this realm's Object.prototype (not an array, not null,
 * not a class instance, a Buffer or a Date, which class-transformer copies otherwise; in a jest
 * test, structuredClone makes objects of the host realm, which are not these either). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

/** An array as JSON.parse makes them: no gaps (class-transformer closes them) and no other keys
 * (it drops them). */
export function isJsonArray(value: unknown): value is unknown[] {
  return Array.isArray(value) && Object.getPrototypeOf(value) === Array.prototype && Object.keys(value).length === value.length;
}

/** A JSON array each of whose elements `item` accepts, as the new list of what it returned (a list
 * of nested instances, as IsArray + ValidateNested each + Type make it); undefined otherwise. */
export function plainListOf<T>(value: unknown, item: (element: unknown) => T | undefined): T[] | undefined {
  if (!isJsonArray(value)) return undefined;
  const list: T[] = [];
  for (const element of value) {
    const checked = item(element);
    if (checked === undefined) return undefined;
    list.push(checked);
  }
  return list;
}

/** A key class-transformer does not copy (`__proto__`, `constructor`, and any other name of
 * Object.prototype, whose methods it will not overwrite) or Nest's ValidationPipe deletes first
 * (those two and `prototype`). */
function isDroppedKey(key: string): boolean {
  return key in Object.prototype || key === 'prototype';
}

/** A JSON object none of whose keys the full path drops, and, when `keys` is given, none of whose
 * keys is outside it (the command contract refuses unknown fields). Its values are not looked at. */
export function isCopiedObject(value: unknown, keys?: ReadonlySet<string>): value is Record<string, unknown> {
  if (!isJsonObject(value)) return false;
  for (const key of Object.keys(value)) if (keys ? !keys.has(key) : isDroppedKey(key)) return false;
  return true;
}

/** JSON data (null, booleans, finite numbers, strings, JSON arrays and objects) that
 * class-transformer's plainToInstance, and Nest's ValidationPipe before it, copy unchanged: no key
 * either drops, at most PLAIN_DATA_MAX_DEPTH levels below `depth`. */
export function copiesAsIs(value: unknown, depth = 0): boolean {
  return isJsonDataOf(value, depth, isCopiedObject);
}

/** JSON data as JSON.parse makes it, any key allowed (`__proto__`, `constructor` included: JSON.parse
 * makes them own data properties), at most PLAIN_DATA_MAX_DEPTH levels below `depth`: the value of
 * an opaque field (OpaqueJson), which both paths hand on as it is instead of copying it. */
export function isOpaqueJsonData(value: unknown, depth = 0): boolean {
  return isJsonDataOf(value, depth, isJsonObject);
}

/** JSON data at most PLAIN_DATA_MAX_DEPTH levels below `depth` whose objects all pass `objectOk`. */
function isJsonDataOf(value: unknown, depth: number, objectOk: (value: unknown) => boolean): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (depth >= PLAIN_DATA_MAX_DEPTH) return false;
  if (isJsonArray(value)) return value.every((item) => isJsonDataOf(item, depth + 1, objectOk));
  return objectOk(value) && Object.values(value as object).every((item) => isJsonDataOf(item, depth + 1, objectOk));
}

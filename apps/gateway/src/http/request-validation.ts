import { applyDecorators, ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { Expose, Transform, Type } from 'class-transformer';
import { ArrayNotEmpty, IsArray, IsInt, IsOptional, Max, Min, ValidateBy, ValidateNested } from 'class-validator';
import { ERROR_CODE, plainListOf } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { PolyprotoError } from '@p2/polyproto';
import { ApiError } from './api-error';

/** Per DTO prototype: fields that are the whole body (WholeBodyAs), and the other names a field is
 * read under. Kept here, not in reflect-metadata, because only the answer to a failure reads them. */
const WHOLE_BODY_FIELDS = new WeakMap<object, Set<string>>();
const FIELD_ALIASES = new WeakMap<object, Map<string, readonly string[]>>();
/** The whole-body lists (WholeBodyListOf) made of one object the client sent without a list: an
 * answer names its fields without the index the client never sent (`key_data`, not `[0].key_data`).
 * Marked where the list is made, so no request pays for working it out again. */
const ONE_ITEM_LISTS = new WeakSet<object>();

function oneItemList<T>(item: T): T[] {
  const list = [item];
  ONE_ITEM_LISTS.add(list);
  return list;
}

/** Looks a property up along the prototype chain of a DTO instance (a nested DTO's too). */
function lookUp<T>(table: WeakMap<object, T>, target: unknown, read: (entry: T) => boolean): boolean {
  for (let proto = typeof target === 'object' && target !== null ? Object.getPrototypeOf(target) : null; proto; proto = Object.getPrototypeOf(proto)) {
    const entry = table.get(proto as object);
    if (entry && read(entry)) return true;
  }
  return false;
}

function aliasesOf(target: unknown, property: string): readonly string[] {
  let found: readonly string[] = [];
  lookUp(FIELD_ALIASES, target, (entry) => {
    found = entry.get(property) ?? [];
    return found.length > 0;
  });
  return found;
}

/** How a field is named to the client: `[0].serial_number` for the first element of a whole-body
 * array, `completed_challenge.signature` for a nested field. */
function joinPath(parent: string, property: string): string {
  if (/^\d+$/.test(property)) return `${parent}[${property}]`;
  return parent ? `${parent}.${property}` : property;
}

interface Failure {
  /** '' when the whole body failed */
  readonly path: string;
  readonly aliases: readonly string[];
  readonly message: string;
  readonly code: string;
}

/** What a failed check answers: the first field that failed, by its path in the request; undefined
 * when what failed is no field (a body that is not an object). */
function firstFailure(errors: readonly ValidationError[], parent = ''): Failure | undefined {
  for (const error of errors) {
    const wholeBody = parent === '' && lookUp(WHOLE_BODY_FIELDS, error.target, (fields) => fields.has(error.property));
    const unnamed = error.property === undefined || error.property === '';
    // at the top, a failure of no field is a body that is no object (notAnObject)
    if (unnamed && !wholeBody && parent === '') continue;
    const path = wholeBody ? '' : unnamed ? parent : joinPath(parent, error.property);
    const [constraint, message] = Object.entries(error.constraints ?? {})[0] ?? [];
    if (constraint !== undefined && message !== undefined) {
      const code = (error.contexts?.[constraint] as { code?: string } | undefined)?.code ?? ERROR_CODE.malformedRequest;
      // class-validator's own wording names the parent DTO's field: an element of it must be an object
      const text = constraint === 'nestedValidation' ? 'must be an object' : message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message;
      return { path, aliases: aliasesOf(error.target, error.property), message: text, code };
    }
    const nested = firstFailure(error.children ?? [], path);
    if (!nested) continue;
    // (Nest drops the value of an error with children: the list is read from the DTO)
    const oneItem = wholeBody && ONE_ITEM_LISTS.has((error.target as Record<string, unknown>)[error.property] as object);
    return oneItem ? { ...nested, path: nested.path.replace(/^\[0\]\.?/, '') } : nested;
  }
  return undefined;
}

function failureMessage(failure: Omit<Failure, 'code'>): string {
  if (failure.path === '') return `The request body ${failure.message}.`;
  const also = failure.aliases.length === 0 ? '' : ` (also sent as ${failure.aliases.map((alias) => `"${alias}"`).join(' or ')})`;
  return `The field "${failure.path}"${also} ${failure.message}.`;
}

/** The field is the whole request body, put under its name by WholeBodyAs: an answer names what is
 * inside it (`[0].init_key`), not the field, which the client never sent. */
export const IsWholeBody = (): PropertyDecorator => (target, property) => {
  const fields = WHOLE_BODY_FIELDS.get(target) ?? new Set<string>();
  fields.add(String(property));
  WHOLE_BODY_FIELDS.set(target, fields);
};

/**
 * The field is the whole body, sent as one `item` or a non-empty list of them (a lone object is a
 * list of one); every element is checked as an `item`, and a list inside the list is refused by its
 * index. The decorators apply in the order a stack of them written above the field would.
 */
export const WholeBodyListOf = (item: () => new () => object) =>
  applyDecorators(
    Type(item),
    ValidateNested({ each: true }),
    NoListInList(),
    ArrayNotEmpty(),
    IsArray(),
    // class-transformer runs this after it has made the lone object an `item`, so the list marked
    // here is the one the DTO holds (request-validation.spec.ts reads it through the full pipe)
    Transform(({ value }: { value: unknown }) => (typeof value === 'object' && value !== null && !Array.isArray(value) ? oneItemList(value) : value)),
    IsWholeBody(),
  );

/**
 * What an answer says of `property` of element `index` of a whole-body list (WholeBodyListOf), in
 * the words of a 400 (docs/protocol.md#error-body): the field by its path in the request
 * (`[1].key_data` in an array body, `key_data` when the body was one object) and its other names.
 */
export function bodyItemMessage(list: readonly object[], index: number, property: string, message: string): string {
  const path = ONE_ITEM_LISTS.has(list) ? property : joinPath(joinPath('', String(index)), property);
  return failureMessage({ path, aliases: aliasesOf(list[index], property), message });
}

/**
 * The field is also read under other names, as the request shapes of other protocol documents send
 * it (the first of the names that is present is read), then `normalise`d; a failure names them all,
 * so the client finds the name it sent.
 */
export const AlsoNamed = (aliases: readonly string[], normalise: (value: unknown) => unknown = (value) => value) =>
  applyDecorators(
    Expose(),
    Transform(({ value, obj }: { value: unknown; obj: Record<string, unknown> }) => normalise(isPresent(value) ? value : readAlsoNamed(obj, aliases))),
    (target: object, property: string | symbol) => {
      const fields = FIELD_ALIASES.get(target) ?? new Map<string, readonly string[]>();
      fields.set(String(property), aliases);
      FIELD_ALIASES.set(target, fields);
    },
  );

const isPresent = (value: unknown) => value !== undefined && value !== null;

/** What an AlsoNamed field reads before it normalises: the first of `names` (the field's own name
 * first) that is present in the request `obj`; undefined when none is. */
export function readAlsoNamed(obj: Record<string, unknown>, names: readonly string[]): unknown {
  for (const name of names) if (isPresent(obj[name])) return obj[name];
  return undefined;
}

const notAnObject = () => new ApiError(400, ERROR_CODE.malformedRequest, 'The request body must be a JSON object.');

/** class-transformer reads an array as many instances of the class, and class-validator checks a
 * string against nothing: a body of fields must be an object before either looks at it. */
const PLAIN_TYPES: unknown[] = [String, Number, Boolean, Array, Object];

/** Per DTO class: a hand-written check of its usual, valid form (registerPlainCheck). */
const PLAIN_CHECKS = new Map<unknown, (value: unknown) => object | undefined>();

/**
 * Gives a hot route's body DTO a hand-written check: it returns the DTO the pipe would return when
 * `value` is a well-formed request of the usual shape, and undefined for anything else, which then
 * goes through class-transformer and class-validator as before and gets their answer. The check
 * may turn down valid requests (they pay for the full pipe), never accept one the decorators
 * refuse: apps/gateway/test/request-validation.spec.ts runs both over the same requests. On the
 * write routes the full pipe cost more CPU than the rest of the route (docs/benchmarks.md#where-the-time-goes).
 */
export function registerPlainCheck<T extends object>(dto: abstract new (...args: never[]) => T, check: (value: unknown) => T | undefined): void {
  PLAIN_CHECKS.set(dto, check);
}

/** Per DTO class: where the values of its opaque fields (OpaqueJson) are in a request. */
const OPAQUE_VALUES = new Map<unknown, (value: unknown) => Iterable<unknown>>();

/**
 * The DTO has fields of any JSON that are stored as sent (OpaqueJson), found in a request by
 * `find`. Nest's pipe deletes `__proto__`, `constructor` and `prototype` keys at any depth before
 * class-transformer runs, which would change such a value; the pipe leaves the values `find`
 * returns as they are. Nothing in them is ever assigned through a setter (JSON.parse made their keys
 * own data properties, and class-transformer does not copy them), so no prototype is polluted.
 */
export function registerOpaqueValues<T extends object>(dto: abstract new (...args: never[]) => T, find: (value: unknown) => Iterable<unknown>): void {
  OPAQUE_VALUES.set(dto, find);
}

/** A JSON object (not an array, not null), as the body parser makes them. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What a WholeBodyAs route's DTO is made from, `{[field]: body}` and nothing else, as `{ body }`;
 * undefined for anything else, which a plain check leaves to the full pipe. */
export function wholeBodyOf(value: unknown, field: string): { body: unknown } | undefined {
  if (!isPlainObject(value)) return undefined;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === field ? { body: value[field] } : undefined;
}

/** A plain check's reading of a whole-body list DTO (`{[field]: body}`, the body an array of items
 * or one item, which is a list of one as the DTO's Transform makes it, marked as it marks it): the
 * items `item` returns, or undefined when the list is empty or `item` turns one down. */
export function plainWholeBodyList<T>(request: unknown, field: string, item: (value: unknown) => T | undefined): T[] | undefined {
  const whole = wholeBodyOf(request, field);
  if (!whole) return undefined;
  if (isPlainObject(whole.body)) {
    const one = item(whole.body);
    return one === undefined ? undefined : oneItemList(one);
  }
  return Array.isArray(whole.body) && whole.body.length > 0 ? plainListOf(whole.body, item) : undefined;
}

class RequestValidationPipe extends ValidationPipe {
  constructor(
    options: ConstructorParameters<typeof ValidationPipe>[0],
    private readonly plainChecks: boolean,
  ) {
    super(options);
  }

  /** The opaque values of the requests being checked (registerOpaqueValues): weak, so a request's
   * values go with it; one pipe serves concurrent requests. */
  private readonly opaque = new WeakSet<object>();

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (this.plainChecks && metadata.type === 'body') {
      const accepted = PLAIN_CHECKS.get(metadata.metatype)?.(value);
      if (accepted !== undefined) return accepted;
    }
    const opaque = metadata.type === 'body' ? OPAQUE_VALUES.get(metadata.metatype) : undefined;
    if (opaque) for (const found of opaque(value)) if (typeof found === 'object' && found !== null) this.opaque.add(found);
    const fields = metadata.type === 'body' && typeof metadata.metatype === 'function' && !PLAIN_TYPES.includes(metadata.metatype);
    if (fields && value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) throw notAnObject();
    return super.transform(value, metadata);
  }

  // Nest's walk calls this method again for every value inside, so an opaque value is skipped at any depth.
  protected override stripProtoKeys(value: unknown): void {
    if (typeof value === 'object' && value !== null && this.opaque.has(value)) return;
    super.stripProtoKeys(value);
  }
}

/**
 * Every route's request is a DTO class (`*.request.dto.ts` in its feature folder), checked by this
 * pipe before the route runs. A failure is a 400 with the error body naming the field
 * (docs/protocol.md#error-body); a check may carry another code as `context: { code }`.
 * Unknown fields are ignored, as the lenient forms promise (docs/protocol.md#lenient-bodies).
 */
export function requestValidationPipe(options: { plainChecks?: boolean } = {}): ValidationPipe {
  return new RequestValidationPipe(
    {
    transform: true,
    // a body that is not an object (a string, an array) where the route takes fields is refused
    forbidUnknownValues: true,
    stopAtFirstError: true,
    // the factory reads each error's DTO (which fields are whole bodies, which have other names);
    // the errors themselves never reach an answer or a log
    validationError: { target: true },
    exceptionFactory: (errors) => {
      const failure = firstFailure(errors);
      return failure ? new ApiError(400, failure.code, failureMessage(failure)) : notAnObject();
    },
    },
    options.plainChecks ?? true,
  );
}

/** The last second a JavaScript date (and so the read models' queries) can hold: 8.64e15 ms. */
export const MAX_UNIX_SECONDS = 8_640_000_000_000;

/** A time in UNIX seconds, from 0 to the last second a date holds (docs/protocol.md#timestamps);
 * an empty value is no value. */
export const UnixSeconds = () =>
  applyDecorators(
    Transform(({ value }: { value: unknown }) => (value === '' || value === null ? undefined : typeof value === 'string' && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : value)),
    IsOptional(),
    IsInt({ message: UNIX_SECONDS_MESSAGE }),
    Min(0, { message: UNIX_SECONDS_MESSAGE }),
    Max(MAX_UNIX_SECONDS, { message: UNIX_SECONDS_MESSAGE }),
  );
const UNIX_SECONDS_MESSAGE = `must be a time in UNIX seconds from 0 to ${MAX_UNIX_SECONDS} (a JSON number or a decimal string)`;

function ruleFailure(rule: (value: string) => unknown, value: unknown): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  try {
    rule(value);
    return undefined;
  } catch (error) {
    if (error instanceof PolyprotoError || error instanceof DomainError) return `is malformed: ${error.message}`;
    throw error;
  }
}

/** A string field checked by one of the protocol's own rules (a federation ID, a session ID…),
 * whose refusal message becomes the answer's; `code` replaces P2CORE_MALFORMED_REQUEST. */
export const PassesRule = (name: string, rule: (value: string) => unknown, code?: string) =>
  ValidateBy(
    {
      name,
      validator: {
        validate: (value: unknown) => ruleFailure(rule, value) === undefined,
        defaultMessage: (args) => ruleFailure(rule, args?.value) ?? 'is malformed',
      },
    },
    code ? { context: { code } } : undefined,
  );

/** Normalises a valid value by the same rule (e.g. lowercasing a federation ID); an invalid one
 * stays as sent for PassesRule to refuse. */
export const NormalisedBy = (rule: (value: string) => { toString(): string }) =>
  Transform(({ value }: { value: unknown }) => {
    if (typeof value !== 'string' || ruleFailure(rule, value) !== undefined) return value;
    return rule(value).toString();
  });

/** Empty strings and nulls are absent values (a query `?session_id=` names nothing). */
export const EmptyIsAbsent = () => Transform(({ value }: { value: unknown }) => (value === '' || value === null ? undefined : value));

/** A list whose elements are objects: ValidateNested alone reads a list where an element belongs as
 * more elements (`[[a, b]]` would pass as `[a, b]` and reach the route as a list), so a list inside
 * the list is refused here, by its index. Other non-objects are left to ValidateNested, which names them. */
export const NoListInList = () =>
  ValidateBy({
    name: 'noListInList',
    validator: {
      validate: (value: unknown) => !Array.isArray(value) || !value.some((item) => Array.isArray(item)),
      defaultMessage: (args) => `must be a list of objects, not of lists: [${(args?.value as unknown[]).findIndex((item) => Array.isArray(item))}] is a list`,
    },
  });

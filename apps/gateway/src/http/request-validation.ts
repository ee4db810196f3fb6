import { applyDecorators, ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, Max, Min, ValidateBy } from 'class-validator';
import { ERROR_CODE } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { PolyprotoError } from '@p2/polyproto';
import { ApiError } from './api-error';

/** What a failed check answers: the first field that failed, by its path in the request. */
function firstFailure(errors: readonly ValidationError[], parent = ''): { path: string; message: string; code: string } | undefined {
  for (const error of errors) {
    const path = error.property === undefined || error.property === '' ? parent : parent ? `${parent}.${error.property}` : error.property;
    const [constraint, message] = Object.entries(error.constraints ?? {})[0] ?? [];
    if (constraint !== undefined && message !== undefined) {
      const code = (error.contexts?.[constraint] as { code?: string } | undefined)?.code ?? ERROR_CODE.malformedRequest;
      return { path, message: message.startsWith(`${error.property} `) ? message.slice(error.property.length + 1) : message, code };
    }
    const nested = firstFailure(error.children ?? [], path);
    if (nested) return nested;
  }
  return undefined;
}

const notAnObject = () => new ApiError(400, ERROR_CODE.malformedRequest, 'The request body must be a JSON object.');

/** class-transformer reads an array as many instances of the class, and class-validator checks a
 * string against nothing: a body of fields must be an object before either looks at it. */
const PLAIN_TYPES: unknown[] = [String, Number, Boolean, Array, Object];

class RequestValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    const fields = metadata.type === 'body' && typeof metadata.metatype === 'function' && !PLAIN_TYPES.includes(metadata.metatype);
    if (fields && value !== undefined && value !== null && (typeof value !== 'object' || Array.isArray(value))) throw notAnObject();
    return super.transform(value, metadata);
  }
}

/**
 * Every route's request is a DTO class (`*.request.dto.ts` in its feature folder), checked by this
 * pipe before the route runs. A failure is a 400 with the error body naming the field
 * (docs/protocol.md#error-body); a check may carry another code as `context: { code }`.
 * Unknown fields are ignored, as the lenient forms promise (docs/protocol.md#lenient-bodies).
 */
export function requestValidationPipe(): ValidationPipe {
  return new RequestValidationPipe({
    transform: true,
    // a body that is not an object (a string, an array) where the route takes fields is refused
    forbidUnknownValues: true,
    stopAtFirstError: true,
    exceptionFactory: (errors) => {
      const failure = firstFailure(errors);
      if (!failure || failure.path === '') return notAnObject();
      return new ApiError(400, failure.code, `The field "${failure.path}" ${failure.message}.`);
    },
  });
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

import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { plainCommandData } from './command-plain-checks';
import { OPAQUE_JSON_FIELDS } from './command-fields';
import { COMMAND_DATA, isCommandType, type Command, type CommandDataOf, type CommandType } from './commands';
import type { Message } from './envelope';
import { ERROR_CODE } from './errors';

/** A command that breaks its contract: an unknown type, a field of the wrong type or form, a field
 * the contract does not name. Answered with a P2CORE_MALFORMED_REQUEST refusal, never retried. */
export class InvalidCommandError extends Error {
  readonly code = ERROR_CODE.malformedRequest;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidCommandError';
  }
}

/** Unknown fields are refused, not dropped: a producer that sends one is out of contract, and
 * dropping it silently would hide that. Values never appear in the messages (key material,
 * password hashes). */
const OPTIONS = {
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  validationError: { target: false, value: false },
} as const;

/** Checks `data` against the class of `type` and returns it as an instance of that class.
 * Throws InvalidCommandError naming every broken field. The hottest commands' usual form is
 * answered by a hand-written check (command-plain-checks.ts) that returns the same instance;
 * `plainChecks: false` leaves everything to class-transformer and class-validator. */
export function decodeCommandData<T extends CommandType>(type: T, data: unknown, options: { plainChecks?: boolean } = {}): CommandDataOf<T> {
  if (options.plainChecks !== false) {
    const checked = plainCommandData(type, data);
    if (checked !== undefined) return checked;
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new InvalidCommandError(`${type}: the command data must be a JSON object`);
  const hidden = keyClassTransformerDrops(data);
  if (hidden !== undefined) throw new InvalidCommandError(`${type}: property ${hidden} should not exist`);
  let instance: CommandDataOf<T>;
  let errors: ValidationError[];
  try {
    instance = plainToInstance(COMMAND_DATA[type] as new () => object, data) as CommandDataOf<T>;
    errors = validateSync(instance, OPTIONS);
  } catch (error) {
    // e.g. JSON nested deeper than the call stack: still a command outside its contract
    throw new InvalidCommandError(`${type}: the command data cannot be read (${(error as Error)?.name ?? 'error'})`);
  }
  if (errors.length > 0) throw new InvalidCommandError(`${type}: ${describe(errors).join('; ')}`);
  return instance;
}

/** The command of a received envelope with its data checked (see decodeCommandData). */
export function decodeCommand(message: Message): Command {
  if (!isCommandType(message.type)) throw new InvalidCommandError(`unknown command type ${JSON.stringify(message.type.slice(0, 100))}`);
  return { ...message, data: decodeCommandData(message.type, message.data) } as Command;
}

/**
 * The first key in `data` (at any depth) that names a property of Object.prototype (`__proto__`,
 * `constructor`, `toString`, `valueOf`, …). class-transformer skips such keys instead of copying
 * them, so class-validator never sees them and `forbidNonWhitelisted` cannot refuse them: without
 * this they would be dropped silently. No command field has such a name. The value of an opaque
 * field (OpaqueJson) is not looked into: it is taken as it is, such keys included.
 */
function keyClassTransformerDrops(data: object): string | undefined {
  const pending: unknown[] = [data];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value !== 'object' || value === null) continue;
    for (const key of Object.keys(value)) {
      if (!Array.isArray(value) && key in Object.prototype) return JSON.stringify(key);
      if (!Array.isArray(value) && OPAQUE_JSON_FIELDS.has(key)) continue;
      pending.push((value as Record<string, unknown>)[key]);
    }
  }
  return undefined;
}

function describe(errors: readonly ValidationError[], path = ''): string[] {
  return errors.flatMap((error) => {
    const field = path ? `${path}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((text) => (path ? `${path}.${text}` : text));
    return [...own, ...describe(error.children ?? [], field)];
  });
}

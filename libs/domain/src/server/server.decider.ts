import type { DomainEvent, ServerKeyGeneratedData, ServerKeyRotatedData } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError } from '../domain-error';
import { ERROR_CODE } from '@p2/contracts';

export type ServerEvent = Extract<DomainEvent, { type: 'ServerKeyGenerated' | 'ServerKeyRotated' }>;

export interface ServerRoot {
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface ServerState {
  readonly current?: ServerRoot;
}

export type ServerCommand =
  | {
      readonly type: 'GenerateServerKey';
      readonly root: Omit<ServerKeyGeneratedData, 'generatedAt'>;
      readonly at: Date;
    }
  | {
      readonly type: 'RotateServerKey';
      /** the root the new key was prepared against; a rotation that raced another is refused */
      readonly previousSerial: string;
      readonly root: Omit<ServerKeyGeneratedData, 'generatedAt'>;
      readonly compromised: boolean;
      readonly requestedBy: string;
      readonly at: Date;
    };

const initialState = (): ServerState => ({});

function evolve(state: ServerState, event: ServerEvent): ServerState {
  switch (event.type) {
    case 'ServerKeyGenerated': {
      const { serial, notBefore, notAfter } = event.data;
      return { ...state, current: { serial, notBefore, notAfter } };
    }
    case 'ServerKeyRotated': {
      const { serial, notBefore, notAfter } = event.data;
      return { ...state, current: { serial, notBefore, notAfter } };
    }
    default:
      return assertNever(event);
  }
}

/** Every refusal of RotateServerKey, asked before a new key is generated and its root signed
 * (decide asks it again): there must be a root, and it must still be `previousSerial`. */
export function checkRotateServerKey(state: ServerState, previousSerial: string): ServerRoot {
  if (!state.current) throw new DomainError(ERROR_CODE.unavailable, 'The home server has no identity key yet.');
  if (state.current.serial !== previousSerial) throw new DomainError(ERROR_CODE.unavailable, 'The server key was rotated meanwhile; retry.');
  return state.current;
}

function decide(command: ServerCommand, state: ServerState): readonly ServerEvent[] {
  switch (command.type) {
    case 'GenerateServerKey':
      if (state.current) {
        throw new DomainError(ERROR_CODE.internal, 'The home server already has an identity key.');
      }
      return [{ type: 'ServerKeyGenerated', data: { ...command.root, generatedAt: command.at.toISOString() } }];
    case 'RotateServerKey': {
      const current = checkRotateServerKey(state, command.previousSerial);
      const data: ServerKeyRotatedData = {
        ...command.root,
        previousSerial: current.serial,
        rotatedAt: command.at.toISOString(),
        compromised: command.compromised,
        requestedBy: command.requestedBy,
      };
      return [{ type: 'ServerKeyRotated', data }];
    }
    default:
      return assertNever(command);
  }
}

export const serverDecider: Decider<ServerState, ServerCommand, ServerEvent> = { initialState, evolve, decide };

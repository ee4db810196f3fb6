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

function decide(command: ServerCommand, state: ServerState): readonly ServerEvent[] {
  switch (command.type) {
    case 'GenerateServerKey':
      if (state.current) {
        throw new DomainError(ERROR_CODE.internal, 'The home server already has an identity key.');
      }
      return [{ type: 'ServerKeyGenerated', data: { ...command.root, generatedAt: command.at.toISOString() } }];
    case 'RotateServerKey': {
      if (!state.current) throw new DomainError(ERROR_CODE.unavailable, 'The home server has no identity key yet.');
      if (state.current.serial !== command.previousSerial) {
        throw new DomainError(ERROR_CODE.unavailable, 'The server key was rotated meanwhile; retry.');
      }
      const data: ServerKeyRotatedData = {
        ...command.root,
        previousSerial: state.current.serial,
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

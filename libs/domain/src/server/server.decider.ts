import type { DomainEvent, ServerKeyGeneratedData } from '@p2/contracts';
import { assertNever, type Decider } from '../decider';
import { DomainError } from '../domain-error';
import { ERROR_CODE } from '@p2/contracts';

export type ServerEvent = Extract<DomainEvent, { type: 'ServerKeyGenerated' }>;

export interface ServerRoot {
  readonly serial: string;
  readonly notBefore: string;
  readonly notAfter: string;
}

export interface ServerState {
  readonly current?: ServerRoot;
}

export type ServerCommand = {
  readonly type: 'GenerateServerKey';
  readonly root: Omit<ServerKeyGeneratedData, 'generatedAt'>;
  readonly at: Date;
};

const initialState = (): ServerState => ({});

function evolve(state: ServerState, event: ServerEvent): ServerState {
  switch (event.type) {
    case 'ServerKeyGenerated': {
      const { serial, notBefore, notAfter } = event.data;
      return { ...state, current: { serial, notBefore, notAfter } };
    }
    default:
      return assertNever(event.type);
  }
}

function decide(command: ServerCommand, state: ServerState): readonly ServerEvent[] {
  switch (command.type) {
    case 'GenerateServerKey':
      if (state.current) {
        throw new DomainError(ERROR_CODE.internal, 'The home server already has an identity key.');
      }
      return [{ type: 'ServerKeyGenerated', data: { ...command.root, generatedAt: command.at.toISOString() } }];
    default:
      return assertNever(command.type);
  }
}

export const serverDecider: Decider<ServerState, ServerCommand, ServerEvent> = { initialState, evolve, decide };

import { DomainError, type Decider } from '../src';

/** What a plain model expects of a command: the code of the refusal, or the change to make to
 * itself when the command is accepted. */
export type ModelExpectation = string | (() => void);

/**
 * One step of a model test: the decider decides `command` on `state` (the fold of its own events
 * so far) and must refuse exactly when the model does, with the same code; when it accepts, its
 * events are folded in and the model makes its change. Counts the outcome in `outcomes`
 * (`Type:accepted` or `Type:P2CORE_…`) and returns the new state.
 */
export function stepAgainstModel<S, C extends { readonly type: string }, E>(
  decider: Decider<S, C, E>,
  state: S,
  command: C,
  expected: ModelExpectation,
  step: number,
  outcomes: Map<string, number>,
): S {
  let events: readonly E[] | undefined;
  let refusal: string | undefined;
  try {
    events = decider.decide(command, state);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    refusal = error.code;
  }
  expect({ step, command: command.type, refusal }).toEqual({ step, command: command.type, refusal: typeof expected === 'string' ? expected : undefined });
  const outcome = `${command.type}:${refusal ?? 'accepted'}`;
  outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  if (!events || typeof expected === 'string') return state;
  expected();
  return events.reduce(decider.evolve, state);
}

/** The histories reached both acceptance and a refusal of each of `types`. */
export function expectAcceptedAndRefused(outcomes: ReadonlyMap<string, number>, types: readonly string[]): void {
  for (const type of types) {
    expect({ type, accepted: outcomes.has(`${type}:accepted`), refused: [...outcomes.keys()].some((k) => k.startsWith(`${type}:P2CORE_`)) }).toEqual({
      type,
      accepted: true,
      refused: true,
    });
  }
}

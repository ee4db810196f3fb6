import type { Decider } from '@p2/domain';

/** Given/when/then for deciders, with no infrastructure (Emmett's DeciderSpecification):
 *   spec(decider).given([...events]).when(command).then([...events])
 *   spec(decider).given([...]).when(command).thenThrows(check) */
export function spec<S, C, E>(decider: Decider<S, C, E>) {
  return {
    given(events: readonly E[]) {
      return {
        when(command: C) {
          const run = () => decider.decide(command, events.reduce(decider.evolve, decider.initialState()));
          return {
            then(expected: readonly E[]) {
              expect(run()).toEqual(expected);
            },
            thenThrows(check: (error: unknown) => void) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              expect(thrown).toBeDefined();
              check(thrown);
            },
          };
        },
      };
    },
  };
}

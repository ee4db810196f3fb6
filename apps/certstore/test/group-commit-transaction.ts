import type { CommandContext } from '../src/application/command-context';
import { UnitMemory } from '../src/application/unit-memory';

/** A transaction of the group commit as the stream memories see it: a context per command (its
 * UnitMemo), after-commit effects run by commit(). */
export function groupCommitTransaction() {
  const memory = new UnitMemory();
  const effects: (() => void)[] = [];
  return {
    memory,
    ctx: (owner: number) => ({ afterCommit: (effect: () => void) => void effects.push(effect), unit: memory.of(owner) }) as unknown as CommandContext,
    commit: () => effects.splice(0).forEach((effect) => effect()),
  };
}

/** What a command of the group commit's transaction leaves for the commands after it in the same
 * transaction (CommandContext.unit). */
export interface UnitMemo {
  get<T>(key: string): T | undefined;
  /** Kept under the calling command's savepoint: gone as soon as that command is undone. */
  set(key: string, value: unknown): void;
}

/**
 * The group commit's memory of one transaction, by command (statement owner, PgSession.owner):
 * a value a command set is readable by the commands after it until a ROLLBACK TO SAVEPOINT undoes
 * that command (which undoes every command after it as well). It lets a cache follow writes that
 * have not committed yet — an actor's sessions upload KeyPackages in turn, several to one
 * transaction — where a cache written after COMMIT would miss on every command but the first.
 */
export class UnitMemory {
  private readonly entries = new Map<string, { readonly owner: number; readonly value: unknown }>();

  /** The memo of the command running as `owner`. */
  of(owner: number): UnitMemo {
    return {
      get: <T>(key: string) => this.entries.get(key)?.value as T | undefined,
      set: (key, value) => void this.entries.set(key, { owner, value }),
    };
  }

  /** The command `owner` and every command after it were undone (rolled back to its savepoint,
   * or discarded before its savepoint reached the server). */
  undoFrom(owner: number): void {
    for (const [key, entry] of this.entries) if (entry.owner >= owner) this.entries.delete(key);
  }
}

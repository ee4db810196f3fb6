import { createHash } from 'node:crypto';
import { escapeLiteral } from 'pg';
import type { EntityManager } from 'typeorm';
import { translateUniqueViolation } from './event-store.errors';

// pg's own text serialisation of parameter values (dates, arrays, JSON, buffers): an inlined
// literal is then exactly the text pg would have sent as a parameter.
const { prepareValue } = require('pg/lib/utils') as { prepareValue(value: unknown): string | Buffer | null };

/**
 * The database as command handlers and projections use it: statements run in the order they are
 * given. A write whose result nobody reads is `defer`red: it runs before the next `query` (or at
 * the end of the unit of work), possibly in the same round trip. Errors of a deferred statement
 * surface at that next query or flush, as the typed errors of `translateUniqueViolation`.
 */
export interface Sql {
  /** Runs `text` now, after every deferred statement, and returns its rows. */
  query<T = any>(text: string, params?: readonly unknown[]): Promise<T>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Queues a statement whose result is not needed. */
  defer(text: string, params?: readonly unknown[]): void;
  /** Queues a read whose rows are wanted, but not at once: they are kept in the handle when the
   * statement has run (at the next `query` or `flush`). */
  deferRead<T>(text: string, params?: readonly unknown[]): DeferredRead<T>;
  /** Runs whatever is deferred. */
  flush(): Promise<void>;
}

/** The rows of a deferred read: undefined until the statement ran (and whenever its message failed). */
export interface DeferredRead<T> {
  readonly rows: T[] | undefined;
}

/** What a deferred read will answer. */
export interface Later<T> {
  /** The answer: from the message that carried the read, else sending what is deferred now, else
   * (that message failed) asking again. */
  get(): Promise<T>;
}

/**
 * A read whose answer a handler needs only after its next statement: it leaves with that statement
 * (a command's stream read) instead of in a round trip of its own, which on a busy machine costs
 * more than the read itself (docs/architecture.md#round-trips).
 */
export function readLater<R, T>(db: Sql, text: string, params: readonly unknown[], answer: (rows: readonly R[]) => T): Later<T> {
  const read = db.deferRead<R>(text, params);
  return {
    get: async () => {
      if (read.rows === undefined) await db.flush();
      return answer(read.rows ?? (await db.query<R[]>(text, params)));
    },
  };
}

/** A deferred read as its session fills it in. */
type ReadSlot = { rows: unknown[] | undefined };

/** The part of a pg client a session needs (a pooled client, a plain one). */
export interface PgQueryable {
  query(text: string): Promise<unknown>;
}

/** What the sessions of one connection know of its prepared statements, which live as long as the
 * connection, whatever happens to transactions. */
interface ConnectionStatements {
  /** statements with parameters already PREPAREd */
  readonly prepared: Set<string>;
  /** Statements of a PREPARE message that failed: some of them may exist. A PREPARE that went
   * through stays when a later one of its message fails (prepared statements are not undone with
   * the transaction), so the next PREPARE of the same name would fail with "already exists". A
   * statement that waits for a lock fails so (a projection rebuild holds the read models until the
   * statement timeout cancels it), and the unit that is then retried must not fail for good. */
  readonly uncertain: Set<string>;
}
const statementsOn = new WeakMap<PgQueryable, ConnectionStatements>();

/** Statement names by text: a hash per statement deferred showed in the command path's profile.
 * The texts are the code's own (a multi-row INSERT adds one per row count up to its batch limit),
 * so the map stays small; past its bound it is emptied rather than grown. */
const statementNames = new Map<string, string>();
const STATEMENT_NAMES_MAX = 10_000;

function statementName(text: string): string {
  let name = statementNames.get(text);
  if (name === undefined) {
    if (statementNames.size >= STATEMENT_NAMES_MAX) statementNames.clear();
    name = `p2_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

/** What a planOnce statement starts with (a comment: PostgreSQL and sqlOf ignore it). */
const PLAN_ONCE = '/* plan once */ ';

/**
 * Marks a statement that keeps one generic plan per connection instead of being planned for its
 * values on every execution (which the certstore's connections otherwise do, see PgSession).
 * Planning was a fifth to a third of PostgreSQL's statement time per command write (docs/benchmarks.md#plan-once).
 * Only for statements that reach every table through an index by key (equality, or a range inside
 * one key), and inserts: no value of theirs calls for another plan. A lookup whose best plan depends
 * on how many rows its values match (the processed-commands lookup by consumer and a list of IDs)
 * stays planned for its values.
 */
export function planOnce(text: string): string {
  return PLAN_ONCE + text;
}

/**
 * Before a planOnce statement, unless the transaction is already so: a plan is made at the first
 * execution (and again after an ANALYZE invalidated it) while a table may still be small, where a
 * sequential scan is cheapest and would then stay while the table grows, so sequential scans are
 * off while these plans are made. SET LOCAL ends with the transaction (or the message, outside
 * one), so a connection goes back to its pool at its defaults, whatever failed.
 */
const ENTER_PLAN_ONCE = ['SET LOCAL plan_cache_mode = force_generic_plan', 'SET LOCAL enable_seqscan = off'];
/** Before any other statement, when the transaction is (or may be) in planOnce mode. */
const LEAVE_PLAN_ONCE = ['RESET plan_cache_mode', 'RESET enable_seqscan'];

/** Statements that neither depend on these settings nor need them set: transaction control. */
const TRANSACTION_CONTROL = /^\s*(BEGIN|START\s+TRANSACTION|SAVEPOINT|RELEASE|COMMIT|END|ROLLBACK|ABORT)\b/i;
const TRANSACTION_START = /^\s*(BEGIN|START\s+TRANSACTION)\b/i;
const TRANSACTION_END = /^\s*(COMMIT|END|ABORT|ROLLBACK(?!\s+(WORK\s+|TRANSACTION\s+)?TO\b))\b/i;
/** undoes the settings made since the savepoint, which may or may not have been planOnce mode */
const ROLLBACK_TO = /^\s*ROLLBACK\s+(WORK\s+|TRANSACTION\s+)?TO\b/i;

interface Pending {
  /** what goes into the message */
  readonly text: string;
  /** a planOnce statement */
  readonly once: boolean;
  /** a statement with parameters runs as EXECUTE of a statement prepared once per connection */
  readonly prepare?: { readonly name: string; readonly text: string };
  readonly owner: number;
  readonly seq: number;
  /** where a deferred read's rows go */
  readonly read?: ReadSlot;
}

/**
 * A session on one pg connection that sends every deferred statement together with the next one
 * as ONE simple-protocol message ("s1; s2; …; q"): one round trip instead of one per statement,
 * which is what a command costs on a busy machine. PostgreSQL still runs the statements one after
 * the other, each seeing the previous ones, and stops at the first error.
 *
 * A statement with parameters is PREPAREd the first time this connection sees its text (in a
 * message of its own) and then runs as `EXECUTE name(literal, …)`, its parameters inlined as
 * escaped literals of the text pg would send: the server parses it once per connection, not once
 * per command. It is planned for its values on every execution where the connection says so (the
 * certstore's: `plan_cache_mode=force_custom_plan`), except for {@link planOnce} statements, which
 * keep one generic plan.
 *
 * Statements are tagged with the `owner` current when they were deferred (the group commit's
 * command), so that a failed message can tell whose statements it carried.
 */
export class PgSession implements Sql {
  /** Who the statements deferred from now on belong to. */
  owner = 0;
  /** Asked after every message that went through: an error it returns is thrown to whoever sent
   * the message, once (it is cleared then); the group commit stops a command found to be
   * processed before this way (GroupCommit.runFirst). */
  interrupt: (() => Error | undefined) | undefined;
  private pending: Pending[] = [];
  private nextSeq = 1;
  private sentThrough = 0;
  private failedOwners: ReadonlySet<number> = new Set();
  private readonly prepared: Set<string>;
  private readonly uncertain: Set<string>;
  /** The connection's plan settings as this session left them: at their defaults, in planOnce mode,
   * or unknown (after a failure, or a rollback to a savepoint). A connection taken from the pool is
   * outside any transaction, hence at its defaults. */
  private planMode: 'default' | 'once' | undefined = 'default';
  private inTransaction = false;

  constructor(private readonly client: PgQueryable) {
    let statements = statementsOn.get(client);
    if (!statements) statementsOn.set(client, (statements = { prepared: new Set(), uncertain: new Set() }));
    this.prepared = statements.prepared;
    this.uncertain = statements.uncertain;
  }

  /** Queues a statement; returns its sequence number (see isSent). */
  defer(text: string, params: readonly unknown[] = []): number {
    return this.enqueue(text, params);
  }

  deferRead<T>(text: string, params: readonly unknown[] = []): DeferredRead<T> {
    const read: ReadSlot = { rows: undefined };
    this.enqueue(text, params, read);
    return read as DeferredRead<T>;
  }

  private enqueue(text: string, params: readonly unknown[], read?: ReadSlot): number {
    const seq = this.nextSeq++;
    if (params.length === 0) {
      this.pending.push({ text, once: false, owner: this.owner, seq, read });
    } else {
      const name = statementName(text);
      const once = text.startsWith(PLAN_ONCE);
      this.pending.push({ text: `EXECUTE ${name}(${params.map(toLiteral).join(', ')})`, once, prepare: { name, text }, owner: this.owner, seq, read });
    }
    return seq;
  }

  /** Whether the statement `seq` went to the server (in a message that may have failed after it). */
  isSent(seq: number): boolean {
    return seq <= this.sentThrough;
  }

  /** Whether statements of `owner` wait to be sent. */
  hasPending(owner: number): boolean {
    return this.pending.some((statement) => statement.owner === owner);
  }

  /** Whether the last message that failed carried statements of `owner`. */
  failedWith(owner: number): boolean {
    return this.failedOwners.has(owner);
  }

  async query<T>(text: string, params: readonly unknown[] = []): Promise<T> {
    this.defer(text, params);
    const results = await this.send();
    return results[results.length - 1]!.rows as T;
  }

  async flush(): Promise<void> {
    if (this.pending.length > 0) await this.send();
  }

  /** Drops what is deferred and not sent — everything, or `owner`'s (after a failure, before a rollback). */
  discard(owner?: number): void {
    this.pending = owner === undefined ? [] : this.pending.filter((statement) => statement.owner !== owner);
  }

  /** The message for `statements`: each planOnce one in planOnce mode, every other one (but
   * transaction control) at the defaults, the settings changed only where the mode changes; and
   * where each statement's result is among the message's. */
  private messageOf(statements: readonly Pending[]): { parts: string[]; resultAt: number[] } {
    const parts: string[] = [];
    const resultAt: number[] = [];
    for (const statement of statements) {
      const control = !statement.once && TRANSACTION_CONTROL.test(statement.text);
      if (statement.once && this.planMode !== 'once') {
        parts.push(...ENTER_PLAN_ONCE);
        this.planMode = 'once';
      } else if (!statement.once && !control && this.planMode !== 'default') {
        parts.push(...LEAVE_PLAN_ONCE);
        this.planMode = 'default';
      }
      resultAt.push(parts.length);
      parts.push(statement.text);
      if (!control) continue;
      if (TRANSACTION_START.test(statement.text)) this.inTransaction = true;
      else if (TRANSACTION_END.test(statement.text)) [this.inTransaction, this.planMode] = [false, 'default'];
      else if (ROLLBACK_TO.test(statement.text)) this.planMode = undefined;
    }
    return { parts, resultAt };
  }

  /** PREPAREs `statements` (name → text) on the connection, in one message; first asks which of
   * them a failed PREPARE message may have left there (ConnectionStatements.uncertain). */
  private async prepare(statements: Map<string, string>): Promise<void> {
    const uncertain = [...statements.keys()].filter((name) => this.uncertain.has(name));
    if (uncertain.length > 0) {
      const found = (await this.client.query(`SELECT name FROM pg_prepared_statements WHERE name IN (${uncertain.map((name) => escapeLiteral(name)).join(', ')})`)) as {
        rows: { name: string }[];
      };
      for (const name of uncertain) this.uncertain.delete(name);
      for (const { name } of found.rows) {
        this.prepared.add(name);
        statements.delete(name);
      }
      if (statements.size === 0) return;
    }
    try {
      await this.client.query([...statements].map(([name, text]) => `PREPARE ${name} AS ${text}`).join(';\n'));
    } catch (error) {
      for (const name of statements.keys()) this.uncertain.add(name);
      throw error;
    }
    for (const name of statements.keys()) this.prepared.add(name);
  }

  /** Sends what is pending; returns one result per statement, in order. */
  private async send(): Promise<{ rows: unknown[] }[]> {
    const statements = this.pending.splice(0);
    this.sentThrough = statements[statements.length - 1]!.seq;
    const { parts, resultAt } = this.messageOf(statements);
    let results: { rows: unknown[] }[];
    try {
      const unprepared = new Map(statements.flatMap((s) => (s.prepare && !this.prepared.has(s.prepare.name) ? [[s.prepare.name, s.prepare.text] as const] : [])));
      if (unprepared.size > 0) await this.prepare(unprepared);
      const result = (await this.client.query(parts.join(';\n'))) as { rows: unknown[] } | { rows: unknown[] }[];
      const all = Array.isArray(result) ? result : [result];
      results = resultAt.map((i) => all[i]!);
    } catch (error) {
      this.planMode = undefined;
      this.failedOwners = new Set(statements.map((s) => s.owner));
      throw translateUniqueViolation(error) ?? error;
    }
    // an implicit transaction (no BEGIN) ends with its message, and its SET LOCALs with it
    if (!this.inTransaction) this.planMode = 'default';
    // one result per statement, in order
    statements.forEach((statement, i) => {
      if (statement.read) statement.read.rows = results[i]!.rows;
    });
    const interruption = this.interrupt?.();
    if (interruption) {
      // once: what the sender does about it (a rollback) must go through
      this.interrupt = undefined;
      throw interruption;
    }
    return results;
  }
}

/** A Sql over a TypeORM EntityManager for tools, tests and cold paths: one round trip per
 * statement, deferred ones run in order before the next query. */
export function sqlOf(manager: EntityManager): Sql {
  const pending: [string, readonly unknown[], ReadSlot?][] = [];
  const flush = async () => {
    for (const [text, params, read] of pending.splice(0)) {
      const rows = await run<unknown[]>(text, params);
      if (read) read.rows = rows;
    }
  };
  const run = async <T>(text: string, params: readonly unknown[]): Promise<T> => {
    try {
      const result: unknown = await manager.query(text, [...params]);
      // TypeORM answers an UPDATE/DELETE with [rows, affected]
      return (/^\s*(UPDATE|DELETE)\b/i.test(text) && Array.isArray(result) && Array.isArray(result[0]) ? result[0] : result) as T;
    } catch (error) {
      throw translateUniqueViolation(error) ?? error;
    }
  };
  return {
    defer: (text, params = []) => void pending.push([text, params]),
    deferRead: <T>(text: string, params: readonly unknown[] = []) => {
      const read: ReadSlot = { rows: undefined };
      pending.push([text, params, read]);
      return read as DeferredRead<T>;
    },
    flush,
    query: async <T>(text: string, params: readonly unknown[] = []) => {
      await flush();
      return run<T>(text, params);
    },
  };
}

function toLiteral(value: unknown): string {
  const prepared = prepareValue(value);
  if (prepared === null) return 'NULL';
  if (Buffer.isBuffer(prepared)) return `'\\x${prepared.toString('hex')}'::bytea`;
  return escapeLiteral(prepared);
}

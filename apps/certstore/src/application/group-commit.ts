import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { ERROR_CODE, InvalidCommandError, type CommandResult, type Message, type Reply, type ReplyError } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { ConcurrencyError, PgSession, ProcessedCommands, UniqueViolationError, type DeferredOutcomes } from '@p2/event-store';
import type { CommandBatchRunner, CommandDispatch } from '@p2/messaging';
import { ProcessMetrics } from '@p2/observability';
import { CLOCK, isDatabaseBusy, isDatabaseUnavailable, type Clock } from '@p2/platform';
import { PolyprotoError } from '@p2/polyproto';
import { KEY_PACKAGES_INIT_KEY_CONSTRAINT } from '@p2/read-models';
import type { CommandContext } from './command-context';
import { UnitMemory } from './unit-memory';

const MAX_CONFLICT_RETRIES = 5;
const PROCESSED_COMMANDS_PK = 'processed_commands_pkey';

/**
 * Group commit: a batch of commands (one partition's, in offset order) runs in ONE PostgreSQL
 * transaction — all its events, projection rows and processed-command rows, one commit. Each
 * command runs inside a savepoint, so a refusal or a conflict undoes that command alone:
 *  - a refusal (DomainError, a CSR or contract violation) is rolled back and answered;
 *  - a conflict (another writer appended first, a unique value drawn twice) is rolled back and the
 *    command runs again on fresh state, a bounded number of times;
 *  - anything else fails the whole transaction, which the transport retries and, if it keeps
 *    failing, splits into one command per transaction.
 * Idempotency lives in the same transaction: the batch's command ids are looked up once, a
 * command processed before answers with its first outcome and appends nothing, and every new
 * outcome (refusals included) is recorded with the batch.
 *
 * Round trips are what a command costs on a busy machine, so the transaction runs on a PgSession
 * and a batch of N commands takes N + 1 of them: BEGIN and the idempotency lookup travel with the
 * first command's savepoint and first read; a command's writes are deferred and leave with the
 * next command's savepoint and first read; the last command's writes with the processed rows and
 * COMMIT. The first command therefore starts before the lookup has answered; if it was processed
 * before, it stops at that first read and is undone (runFirst, docs/architecture.md#idempotency).
 */
@Injectable()
export class GroupCommit implements CommandBatchRunner<CommandContext> {
  private readonly logger = new Logger(GroupCommit.name);
  private readonly processed = new ProcessedCommands('certstore');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly metrics: ProcessMetrics,
  ) {}

  async run(commands: readonly Message[], dispatch: CommandDispatch<CommandContext>): Promise<Reply[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction((db) => this.runAll(db, commands, dispatch));
      } catch (error) {
        // Another certstore recorded one of these commands while this one ran them (a rebalance
        // handed the partition over mid-batch): everything here is rolled back, and the next run
        // finds that first outcome.
        const recordedElsewhere = error instanceof UniqueViolationError && error.constraint === PROCESSED_COMMANDS_PK;
        if (recordedElsewhere && attempt < MAX_CONFLICT_RETRIES) continue;
        throw error;
      }
    }
  }

  /** The database is down or restarting, or a statement was cancelled waiting for a lock (a
   * projection rebuild holds every read model for its whole run): the transport holds the batch
   * until it goes through. Dead-lettering it instead would refuse an accepted command for
   * maintenance; a statement that times out for another reason holds its partition too, which
   * the consumer-lag alert shows (docs/architecture.md#postgres-busy). */
  isUnavailable(error: unknown): boolean {
    return isDatabaseUnavailable(error) || isDatabaseBusy(error);
  }

  /** BEGIN on a connection of the pool, then `work`, which ends with COMMIT; ROLLBACK when it
   * throws, and a connection that cannot even roll back is closed instead of going back to the pool. */
  private async transaction<T>(work: (db: PgSession) => Promise<T>): Promise<T> {
    const client: PoolClient = await (this.dataSource.driver as PostgresDriver).master.connect();
    let broken: Error | undefined;
    // The pool listens for errors only on idle connections. A connection cut while checked out
    // (PostgreSQL restarting) emits 'error' besides failing its query; unheard, that would end the
    // process. The failed query already carries the error to the batch, so it is only noted here.
    const onConnectionError = (error: Error) => (broken ??= error);
    client.on('error', onConnectionError);
    try {
      const db = new PgSession(client);
      db.defer('BEGIN');
      try {
        return await work(db);
      } catch (error) {
        db.discard();
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      }
    } finally {
      client.removeListener('error', onConnectionError);
      client.release(broken);
    }
  }

  private async runAll(db: PgSession, commands: readonly Message[], dispatch: CommandDispatch<CommandContext>): Promise<Reply[]> {
    const lookup = this.processed.findManyLater<Reply>(db, [...new Set(commands.map((c) => c.metadata.messageId))]);
    const unit: Unit = { db, memory: new UnitMemory() };
    let earlier: ReadonlyMap<string, Reply> | undefined;
    const replies: Reply[] = [];
    const runs: Ran[] = [];
    const took = (ran: Ran) => {
      runs[ran.index] = ran;
      replies[ran.index] = ran.reply;
    };
    const fresh = new Map<string, { commandType: string; index: number }>();
    // The last command that succeeded while its writes are still deferred: they travel with the
    // next command's first statement, and a failure of that message may be theirs.
    let unsettled: Ran | undefined;
    const settle = async () => {
      const last = unsettled;
      unsettled = undefined;
      if (!last) return;
      try {
        await db.flush();
      } catch (error) {
        db.discard();
        took(await this.rerun(unit, last, error, commands[last.index]!, dispatch));
      }
    };
    for (const [index, command] of commands.entries()) {
      const commandId = command.metadata.messageId;
      const known = earlier?.get(commandId);
      const sameBatch = fresh.get(commandId);
      if (known || sameBatch) {
        this.metrics.countCommand(command.type, 'duplicate');
        if (sameBatch) await settle(); // its reply is final only once its writes went through
        replies[index] = known ?? replies[sameBatch!.index]!;
        continue;
      }
      let ran: Ran;
      if (!earlier) {
        // the first command: the lookup leaves with its first statement
        ran = await this.runFirst(unit, index, command, dispatch, lookup);
        earlier = await lookup.get();
        if (ran.duplicate) {
          this.metrics.countCommand(command.type, 'duplicate');
          replies[index] = ran.reply;
          continue;
        }
      } else {
        try {
          ran = await this.runOne(unit, index, command, dispatch, unsettled);
        } catch (error) {
          if (!(error instanceof PreviousWritesFailed) || !unsettled) throw error;
          // The message that carried the previous command's writes failed, whether in them or in
          // this command's first statement: undo the previous command and run both again, each on
          // its own, so that whatever fails is the failing command's.
          const last = unsettled;
          unsettled = undefined;
          db.discard();
          took(await this.rerun(unit, last, error.cause, commands[last.index]!, dispatch));
          ran = await this.runOne(unit, index, command, dispatch, undefined, ALONE);
        }
      }
      took(ran);
      fresh.set(commandId, { commandType: command.type, index });
      // a command refused before it touched the database leaves the previous one's writes waiting
      if (db.hasPending(ran.owner)) unsettled = ran;
      else if (!unsettled || !db.hasPending(unsettled.owner)) unsettled = undefined;
    }
    // The last command's writes, the processed rows and COMMIT leave together; a failure before
    // the COMMIT ran leaves the transaction open, so that command is undone and run again alone.
    const commit = async () => {
      this.processed.record(
        db,
        [...fresh].map(([commandId, { commandType, index }]) => ({ commandId, commandType, outcome: replies[index]! })),
        this.clock.now(),
      );
      db.defer('COMMIT');
      await db.flush();
    };
    try {
      await commit();
    } catch (error) {
      const recordedElsewhere = error instanceof UniqueViolationError && error.constraint === PROCESSED_COMMANDS_PK;
      if (!unsettled || recordedElsewhere) throw error;
      db.discard();
      took(await this.rerun(unit, unsettled, error, commands[unsettled.index]!, dispatch));
      await commit();
    }
    for (const ran of runs) for (const effect of ran?.effects ?? []) effect();
    return replies;
  }

  /**
   * The batch's first command, run before the idempotency lookup has answered: the lookup leaves
   * with its first statement, and if the command was processed before, that statement's answer
   * stops it (AlreadyProcessed, before it decided, signed or wrote anything) and its savepoint is
   * rolled back. A command that never reached the database, or ran again after the message with
   * the lookup failed, learns it only afterwards and is undone then. Either way it answers with its
   * first outcome and leaves nothing behind; what it may have computed meanwhile is thrown away.
   */
  private async runFirst(unit: Unit, index: number, command: Message, dispatch: CommandDispatch<CommandContext>, lookup: DeferredOutcomes<Reply>): Promise<Ran> {
    const { db } = unit;
    const commandId = command.metadata.messageId;
    db.interrupt = () => {
      const first = lookup.known()?.get(commandId);
      return first ? new AlreadyProcessed(first) : undefined;
    };
    let ran: Ran;
    try {
      ran = await this.runOne(unit, index, command, dispatch, undefined);
    } finally {
      db.interrupt = undefined;
    }
    if (ran.duplicate) return ran;
    const first = (await lookup.get()).get(commandId);
    if (!first) return ran;
    db.discard(ran.owner);
    await this.undo(unit, ran);
    return { ...ran, effects: [], reply: first, duplicate: true };
  }

  /** Undoes a command whose deferred writes failed to go through, and runs it again on its own. */
  private async rerun(unit: Unit, ran: Ran, cause: unknown, command: Message, dispatch: CommandDispatch<CommandContext>): Promise<Ran> {
    await this.undo(unit, ran, cause);
    this.logger.debug(`command ${command.metadata.messageId}: its writes failed (${(cause as Error)?.message}); running it again`);
    return this.runOne(unit, ran.index, command, dispatch, undefined, ALONE);
  }

  /** Undoes the command that ran as `ran.owner`, and with it every command after it: its savepoint
   * is rolled back once it reached the server (before that there is nothing to undo there).
   * `cause` is the failure that made it undo: when the rollback fails too, the transaction is gone
   * (a message PostgreSQL refused whole never ran its BEGIN or the SAVEPOINT), and `cause`, not
   * "ROLLBACK TO SAVEPOINT can only be used in transaction blocks", is what the batch fails with. */
  private async undo({ db, memory }: Unit, ran: Pick<Ran, 'owner' | 'savepoint' | 'savepointSeq'>, cause?: unknown): Promise<void> {
    memory.undoFrom(ran.owner);
    if (!db.isSent(ran.savepointSeq)) return;
    try {
      await db.query(`ROLLBACK TO SAVEPOINT ${ran.savepoint}`);
    } catch (rollbackError) {
      if (cause === undefined) throw rollbackError;
      this.logger.debug(`the rollback to savepoint ${ran.savepoint} failed too (${(rollbackError as Error)?.message})`);
      throw cause;
    }
  }

  /**
   * Runs one command in a savepoint of its own. `previous` is the command whose writes are still
   * deferred, if any: they leave with this command's first statement, so a failure of that
   * message may be theirs (PreviousWritesFailed). This command's own writes stay deferred in turn,
   * except when it runs `alone` (again, after a failed message): then they are sent before it
   * returns, so that whatever fails in them is this command's.
   */
  private async runOne(unit: Unit, index: number, command: Message, dispatch: CommandDispatch<CommandContext>, previous: Ran | undefined, alone = false): Promise<Ran> {
    const { db } = unit;
    let waiting = previous;
    const commandId = command.metadata.messageId;
    for (let attempt = 1; ; attempt++) {
      // Savepoints are never released: a release costs a statement and changes nothing here (the
      // transaction ends them all). Each gets a name of its own, so that a failure can go back to
      // exactly the command it belongs to.
      const owner = ++db.owner;
      const savepoint = `c${owner}`;
      const savepointSeq = db.defer(`SAVEPOINT ${savepoint}`);
      try {
        const effects: (() => void)[] = [];
        const ctx: CommandContext = {
          db,
          metadata: command.metadata,
          at: this.clock.now(),
          afterCommit: (effect) => void effects.push(effect),
          unit: unit.memory.of(owner),
        };
        const result = (await dispatch(command, ctx)) as CommandResult;
        // Its writes wait for the next command's first statement (or the COMMIT), unless it runs
        // alone, or it never read: then its savepoint has not left either, and the previous
        // command's writes, if any, would travel with its own, two commands' writes in one message.
        if (alone || !db.isSent(savepointSeq)) await db.flush();
        return { index, owner, savepoint, savepointSeq, effects, reply: { commandId, ok: true, result } };
      } catch (error) {
        if (waiting && db.failedWith(waiting.owner)) throw new PreviousWritesFailed(error);
        db.discard(owner);
        await this.undo(unit, { owner, savepoint, savepointSeq }, error);
        if (error instanceof AlreadyProcessed) return { index, owner, savepoint, savepointSeq, effects: [], reply: error.first, duplicate: true };
        const refusal = toRefusal(error);
        if (refusal) return { index, owner, savepoint, savepointSeq, effects: [], reply: { commandId, ok: false, error: refusal } };
        const conflict = error instanceof ConcurrencyError || error instanceof UniqueViolationError;
        if (!conflict || attempt >= MAX_CONFLICT_RETRIES) throw error;
        this.metrics.countCommand(command.type, 'retried');
        this.logger.debug(`command ${commandId}: ${(error as Error).message}; retrying with fresh state`);
        waiting = undefined;
      }
    }
  }
}

/** The transaction a batch runs in, and what its commands leave for each other. */
interface Unit {
  readonly db: PgSession;
  readonly memory: UnitMemory;
}

/** runOne's `alone`: a command run again on its own sends its writes before it returns. */
const ALONE = true;

/** A command that ran: its reply, the savepoint (and statement owner) it ran in, and what is to
 * happen once its transaction committed. */
interface Ran {
  readonly index: number;
  readonly owner: number;
  readonly savepoint: string;
  /** the savepoint statement's sequence number in the session (PgSession.isSent) */
  readonly savepointSeq: number;
  readonly effects: readonly (() => void)[];
  readonly reply: Reply;
  /** it was processed before: `reply` is its first outcome, and nothing of this run is left */
  readonly duplicate?: true;
}

/** Thrown to the batch's first command by its first statement when the idempotency lookup that
 * travelled with it found the command processed before (see runFirst). */
class AlreadyProcessed extends Error {
  constructor(readonly first: Reply) {
    super(`command ${first.commandId} was processed before`);
    this.name = 'AlreadyProcessed';
  }
}

/** The message carrying the previous command's deferred writes failed (see runAll). */
class PreviousWritesFailed extends Error {
  constructor(override readonly cause: unknown) {
    super(`the previous command's writes or this command's first statement failed: ${(cause as Error)?.message}`);
    this.name = 'PreviousWritesFailed';
  }
}

function toRefusal(error: unknown): ReplyError | undefined {
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  if (error instanceof InvalidCommandError) return { code: error.code, message: error.message };
  if (error instanceof PolyprotoError) {
    return { code: error.code.startsWith('CSR_') ? ERROR_CODE.invalidCsr : ERROR_CODE.malformedRequest, message: error.message };
  }
  // init_key is unique server-wide: a concurrent upload by another actor (another partition) that
  // committed first is a refusal, not a conflict worth retrying
  if (error instanceof UniqueViolationError && error.constraint === KEY_PACKAGES_INIT_KEY_CONSTRAINT) {
    return { code: ERROR_CODE.duplicateInitKey, message: 'A KeyPackage init_key was just stored by a concurrent request; every init_key must be unique.' };
  }
  return undefined;
}

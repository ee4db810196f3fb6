import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { ERROR_CODE, InvalidCommandError, type CommandResult, type Message, type Reply, type ReplyError } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { ConcurrencyError, PgSession, ProcessedCommands, UniqueViolationError, type ProcessedCommand } from '@p2/event-store';
import type { CommandBatchRunner, CommandDispatch } from '@p2/messaging';
import { PolyprotoError } from '@p2/polyproto';
import { KEY_PACKAGES_INIT_KEY_CONSTRAINT } from '../projections/key-packages/key-packages.projection';
import type { CommandContext } from './command-context';

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
 * Round trips are what a command costs on a busy machine, so the transaction runs on a PgSession:
 * a command's writes are deferred and leave together at its end, its savepoint travels with its
 * first read, BEGIN with the idempotency lookup, and the processed rows with COMMIT.
 */
@Injectable()
export class GroupCommit implements CommandBatchRunner<CommandContext> {
  private readonly logger = new Logger(GroupCommit.name);
  private readonly processed = new ProcessedCommands('certstore');

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

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

  /** BEGIN … COMMIT on a connection of the pool; ROLLBACK when `work` or the commit fails, and a
   * connection that cannot even roll back is closed instead of going back to the pool. */
  private async transaction<T>(work: (db: PgSession) => Promise<T>): Promise<T> {
    const client: PoolClient = await (this.dataSource.driver as PostgresDriver).master.connect();
    let broken: Error | undefined;
    try {
      const db = new PgSession(client);
      db.defer('BEGIN');
      try {
        const result = await work(db);
        db.defer('COMMIT');
        await db.flush();
        return result;
      } catch (error) {
        db.discard();
        await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      }
    } finally {
      client.release(broken);
    }
  }

  private async runAll(db: PgSession, commands: readonly Message[], dispatch: CommandDispatch<CommandContext>): Promise<Reply[]> {
    const outcomes = await this.processed.findMany<Reply>(db, [...new Set(commands.map((c) => c.metadata.messageId))]);
    const recorded: ProcessedCommand<Reply>[] = [];
    const replies: Reply[] = [];
    for (const command of commands) {
      const commandId = command.metadata.messageId;
      let reply = outcomes.get(commandId);
      if (!reply) {
        reply = await this.runOne(db, command, dispatch);
        outcomes.set(commandId, reply);
        recorded.push({ commandId, commandType: command.type, outcome: reply });
      }
      replies.push(reply);
    }
    this.processed.record(db, recorded);
    return replies;
  }

  private async runOne(db: PgSession, command: Message, dispatch: CommandDispatch<CommandContext>): Promise<Reply> {
    const commandId = command.metadata.messageId;
    for (let attempt = 1; ; attempt++) {
      // Savepoints are never released: a release costs a statement and changes nothing here (the
      // next SAVEPOINT of the same name shadows this one; the transaction ends them all).
      const sentBefore = db.sentCount;
      db.defer('SAVEPOINT command');
      try {
        const result = (await dispatch(command, { db, metadata: command.metadata, at: new Date() })) as CommandResult;
        await db.flush();
        return { commandId, ok: true, result };
      } catch (error) {
        db.discard();
        // Only once this command's SAVEPOINT reached the server is there anything to undo (and a
        // savepoint of its own to go back to, not the previous command's).
        if (db.sentCount > sentBefore) await db.query('ROLLBACK TO SAVEPOINT command');
        const refusal = toRefusal(error);
        if (refusal) return { commandId, ok: false, error: refusal };
        const conflict = error instanceof ConcurrencyError || error instanceof UniqueViolationError;
        if (!conflict || attempt >= MAX_CONFLICT_RETRIES) throw error;
        this.logger.debug(`command ${commandId}: ${(error as Error).message}; retrying with fresh state`);
      }
    }
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

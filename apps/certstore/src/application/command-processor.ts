import { Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { ERROR_CODE, type CommandResult, type Message, type Reply } from '@p2/contracts';
import { DomainError } from '@p2/domain';
import { ConcurrencyError, PostgresEventStore, ProcessedCommands, UniqueViolationError } from '@p2/event-store';
import { PolyprotoError } from '@p2/polyproto';
import { MalformedCommandError, type CommandContext } from './command-context';
import { OpenSessionHandler } from './open-session.handler';
import { RegisterActorHandler } from './register-actor.handler';
import { SessionLifecycleHandler } from './session-lifecycle.handler';
import { IssueChallengeHandler } from './issue-challenge.handler';
import { IdentifySessionHandler } from './identify-session.handler';
import { RotateIdCertHandler } from './rotate-id-cert.handler';
import { RotateServerKeyHandler } from './rotate-server-key.handler';
import { AcknowledgeInboxHandler } from './acknowledge-inbox.handler';
import { KeyMaterialHandler } from './key-material.handler';
import { KeyPackagesHandler } from './key-packages.handler';
import { KEY_PACKAGES_INIT_KEY_CONSTRAINT } from '../projections/key-packages/key-packages.projection';

const MAX_CONFLICT_RETRIES = 5;
const PROCESSED_COMMANDS_PK = 'processed_commands_pkey';

/** load → decide → sign → append + projections + processed-command row in ONE transaction → reply.
 * Conflicts (another writer, a serial drawn twice) retry with fresh state; refusals are replies
 * and are recorded too, so a redelivered command always gets its first outcome. Anything else is
 * thrown to the consumer, which retries and finally dead-letters. */
@Injectable()
export class CommandProcessor {
  private readonly logger = new Logger(CommandProcessor.name);
  private readonly processed = new ProcessedCommands('certstore');

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly eventStore: PostgresEventStore,
    private readonly registerActor: RegisterActorHandler,
    private readonly openSession: OpenSessionHandler,
    private readonly sessions: SessionLifecycleHandler,
    private readonly issueChallenge: IssueChallengeHandler,
    private readonly identifySession: IdentifySessionHandler,
    private readonly rotateIdCert: RotateIdCertHandler,
    private readonly rotateServerKey: RotateServerKeyHandler,
    private readonly acknowledgeInbox: AcknowledgeInboxHandler,
    private readonly keyMaterial: KeyMaterialHandler,
    private readonly keyPackages: KeyPackagesHandler,
  ) {}

  async handle(command: Message): Promise<Reply> {
    const commandId = command.metadata.messageId;
    const first = await this.processed.find<Reply>(this.dataSource.manager, commandId);
    if (first) return first;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.eventStore.transaction(async (manager) => {
          const result = await this.dispatch(command, { manager, metadata: command.metadata, at: new Date() });
          const reply: Reply = { commandId, ok: true, result };
          await this.processed.record(manager, commandId, command.type, reply);
          return reply;
        });
      } catch (error) {
        const refusal = toRefusal(error);
        if (refusal) return this.recordRefusal(command, refusal);
        if (error instanceof UniqueViolationError && error.constraint === PROCESSED_COMMANDS_PK) {
          const outcome = await this.processed.find<Reply>(this.dataSource.manager, commandId);
          if (outcome) return outcome;
        }
        const conflict = error instanceof ConcurrencyError || error instanceof UniqueViolationError;
        if (conflict && attempt < MAX_CONFLICT_RETRIES) {
          this.logger.debug(`command ${commandId}: ${(error as Error).message}; retrying with fresh state`);
          continue;
        }
        throw error;
      }
    }
  }

  private dispatch(command: Message, ctx: CommandContext): Promise<CommandResult> {
    switch (command.type) {
      case 'RegisterActor':
        return this.registerActor.execute(command.data, ctx);
      case 'OpenSession':
        return this.openSession.execute(command.data, ctx);
      case 'LogOutSession':
        return this.sessions.logOut(command.data, ctx);
      case 'DeleteSession':
        return this.sessions.delete(command.data, ctx);
      case 'RotateIdCert':
        return this.rotateIdCert.execute(command.data, ctx);
      case 'RotateServerKey':
        return this.rotateServerKey.execute(command.data, ctx);
      case 'AcknowledgeInbox':
        return this.acknowledgeInbox.execute(command.data, ctx);
      case 'StoreKeyMaterial':
        return this.keyMaterial.store(command.data, ctx);
      case 'DeleteKeyMaterial':
        return this.keyMaterial.delete(command.data, ctx);
      case 'IssueChallenge':
        return this.issueChallenge.execute(command.data, ctx);
      case 'IdentifySession':
        return this.identifySession.execute(command.data, ctx);
      case 'AddKeyPackages':
        return this.keyPackages.add(command.data, ctx);
      case 'ReplaceLastResortKeyPackage':
        return this.keyPackages.replaceLastResort(command.data, ctx);
      case 'ClaimKeyPackages':
        return this.keyPackages.claim(command.data, ctx);
      default:
        throw new MalformedCommandError(`unknown command type ${command.type}`);
    }
  }

  private async recordRefusal(command: Message, error: { code: string; message: string }): Promise<Reply> {
    const commandId = command.metadata.messageId;
    const reply: Reply = { commandId, ok: false, error };
    try {
      await this.eventStore.transaction((manager) => this.processed.record(manager, commandId, command.type, reply));
      return reply;
    } catch (recordError) {
      const outcome = await this.processed.find<Reply>(this.dataSource.manager, commandId);
      if (outcome) return outcome;
      throw recordError;
    }
  }
}

function toRefusal(error: unknown): { code: string; message: string } | undefined {
  if (error instanceof DomainError) return { code: error.code, message: error.message };
  if (error instanceof PolyprotoError) {
    return { code: error.code.startsWith('CSR_') ? ERROR_CODE.invalidCsr : ERROR_CODE.malformedRequest, message: error.message };
  }
  if (error instanceof MalformedCommandError) return { code: ERROR_CODE.malformedRequest, message: error.message };
  // init_key is unique server-wide: a concurrent upload by another actor (another partition) that
  // committed first is a refusal, not a conflict worth retrying
  if (error instanceof UniqueViolationError && error.constraint === KEY_PACKAGES_INIT_KEY_CONSTRAINT) {
    return { code: ERROR_CODE.duplicateInitKey, message: 'A KeyPackage init_key was just stored by a concurrent request; every init_key must be unique.' };
  }
  return undefined;
}

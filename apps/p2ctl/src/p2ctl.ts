import { actorCommand } from './commands/actor.command';
import { adminsCommand } from './commands/admins.command';
import { dlqCommand } from './commands/dlq.command';
import { lagCommand } from './commands/lag.command';
import { projectionsCommand } from './commands/projections.command';
import { serverKeyCommand } from './commands/server-key.command';
import type { CliIo } from './io';
import { runMonitor } from './monitor/monitor';
import { operatorEnv, UsageError } from './operator-env';
import { OperatorSession } from './operator-session';

export const USAGE = `usage: npm run p2ctl -- <command>
  dlq list                      the dead-lettered commands (offset, type, command id, reason)
  dlq show <offset>             one of them, secrets redacted
  dlq replay <offset>           produce it again with its original command id (applied at most once)
  actor show <federation id>    an actor's streams and read-model rows (no secrets)
  projections rebuild           empty the read models and replay the event log into them
  admins create <name>          register an administrator of P2_ADMINS (password: P2_ADMIN_PASSWORD or stdin)
  server-key rotate [--compromised]   rotate the home server key (requested by operator:<user>)
  lag                           the certstore consumer group's lag per commands partition
  monitor [--once]              the live cluster view (also: npm run monitor)
environment: KAFKA_BROKERS, P2_KAFKA_TOPIC_PREFIX, DATABASE_URL, P2_DOMAIN, P2_ADMINS, P2_OPERATOR (default: login name),
  P2_KEY_ENCRYPTION_KEY (projections rebuild, when the log holds sealed key material),
  P2_PASSWORD_SCRYPT_COST and P2_ADMIN_PASSWORD (admins create)`;

/** Runs one p2ctl command; resolves with the process exit code (0 done, 1 refused/failed, 2 usage). */
export async function runP2ctl(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  try {
    if (command === 'monitor') return await runMonitor(rest, io);
    if (!command || command === 'help' || command === '--help') {
      io.out(USAGE);
      return command ? 0 : 2;
    }
    const session = new OperatorSession(operatorEnv(io.env), io);
    try {
      switch (command) {
        case 'dlq':
          return await dlqCommand(session, rest);
        case 'actor':
          return await actorCommand(session, rest);
        case 'projections':
          return await projectionsCommand(session, rest);
        case 'admins':
          return await adminsCommand(session, rest);
        case 'server-key':
          return await serverKeyCommand(session, rest);
        case 'lag':
          return await lagCommand(session);
        default:
          throw new UsageError(`unknown command "${command}"\n${USAGE}`);
      }
    } finally {
      await session.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(error.message);
      return 2;
    }
    io.err(`p2ctl ${command}: ${(error as Error)?.message ?? error}`);
    return 1;
  }
}

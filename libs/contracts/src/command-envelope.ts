import type { Command, CommandDataOf, CommandOf, CommandType } from './commands';
import { SERVER_STREAM, actorStream, foreignServerStream, foreignSessionStream } from './streams';

/** A command envelope whose id also names the conversation (a command starts one). */
export function newCommand<T extends CommandType>(type: T, data: CommandDataOf<T>, commandId: string, at = new Date()): CommandOf<T> {
  return {
    type,
    data,
    metadata: { messageId: commandId, correlationId: commandId, causationId: commandId, occurredAt: at.toISOString(), schemaVersion: 1 },
  };
}

/** The Kafka key of a command: the stream of the aggregate it is decided on, so that all commands
 * about one actor share a partition and are handled in order. */
export function commandKey(command: Command): string {
  switch (command.type) {
    case 'RotateServerKey':
      return SERVER_STREAM;
    case 'CacheForeignServerCert':
      return foreignServerStream(command.data.domain);
    case 'CacheForeignIdCert':
    case 'IdentifyForeignSession':
    case 'AnnounceForeignIdCert':
    case 'LogOutForeignSession':
      return foreignSessionStream(command.data.federationId, command.data.sessionId);
    default:
      return actorStream(command.data.federationId);
  }
}

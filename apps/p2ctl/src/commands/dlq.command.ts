import { HEADER, isMessage, type Message, type Reply } from '@p2/contracts';
import { TopicTail, type TailRecord } from '@p2/messaging';
import { redactSecrets, table } from '../io';
import { UsageError } from '../operator-env';
import type { OperatorSession } from '../operator-session';

/** Every record on the dead-letter topic now (it is small: only commands that kept failing). */
async function readDeadLetters(session: OperatorSession): Promise<TailRecord[]> {
  const records: TailRecord[] = [];
  const tail = new TopicTail({ kafka: session.kafka, topic: session.topics.deadLetters, onRecord: (r) => records.push(r), groupPrefix: 'p2ctl-dlq' });
  try {
    await tail.start();
    await tail.caughtUp;
  } finally {
    await tail.stop();
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function envelopeOf(record: TailRecord): Message | undefined {
  try {
    const value: unknown = record.value ? JSON.parse(record.value.toString()) : undefined;
    return isMessage(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** `<offset>` or `<partition>:<offset>` (the DLQ has one partition unless an operator made more). */
function locate(records: readonly TailRecord[], where: string | undefined): TailRecord {
  const match = where ? /^(?:(\d+):)?(\d+)$/.exec(where) : null;
  if (!match) throw new UsageError('name a dead letter by its offset (or partition:offset), as `dlq list` shows it');
  const partition = Number(match[1] ?? 0);
  const offset = Number(match[2]);
  const record = records.find((r) => r.partition === partition && r.offset === offset);
  if (!record) throw new UsageError(`no dead letter at ${partition}:${offset} (it may have expired)`);
  return record;
}

/** `p2ctl dlq list | show <offset> | replay <offset>`. */
export async function dlqCommand(session: OperatorSession, [action, where]: readonly string[]): Promise<number> {
  const { io } = session;
  const records = await readDeadLetters(session);
  switch (action) {
    case 'list': {
      if (records.length === 0) {
        io.out(`no dead letters on ${session.topics.deadLetters}`);
        return 0;
      }
      const rows = records.map((r) => {
        const command = envelopeOf(r);
        return [r.partition === 0 ? String(r.offset) : `${r.partition}:${r.offset}`, new Date(r.timestamp).toISOString(), command?.type ?? '(not an envelope)', command?.metadata.messageId, r.headers['dlq-attempts'], r.headers['dlq-origin'], r.headers['dlq-reason']?.slice(0, 80)];
      });
      io.out(table(['offset', 'set aside at', 'type', 'command id', 'attempts', 'origin', 'reason'], rows));
      return 0;
    }
    case 'show': {
      const record = locate(records, where);
      const command = envelopeOf(record);
      io.out(
        JSON.stringify(
          {
            partition: record.partition,
            offset: record.offset,
            key: record.key,
            setAsideAt: new Date(record.timestamp).toISOString(),
            reason: record.headers['dlq-reason'],
            attempts: record.headers['dlq-attempts'],
            origin: record.headers['dlq-origin'],
            command: command ? redactSecrets(command) : null,
            raw: command ? undefined : `${record.value?.length ?? 0} bytes that are not a command envelope`,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    case 'replay':
      return replay(session, locate(records, where));
    default:
      throw new UsageError('usage: p2ctl dlq list | show <offset> | replay <offset>');
  }
}

/** Produces the dead-lettered command again, with its original command id: a certstore applies it
 * once (processed_commands answers any later copy with the first outcome). */
async function replay(session: OperatorSession, record: TailRecord): Promise<number> {
  const command = envelopeOf(record);
  if (!command || !record.key) throw new UsageError(`the dead letter at ${record.partition}:${record.offset} is not a command envelope: there is nothing to replay`);
  // set aside without its command (too large for the dead-letter topic): replaying the marker would
  // only be refused; the command is at its dlq-origin on the commands topic
  if (record.headers[HEADER.payloadOmitted]) {
    throw new UsageError(`the dead letter at ${record.partition}:${record.offset} was set aside without its command (too large for the topic); it is at ${record.headers['dlq-origin']} on the commands topic`);
  }
  const bus = await session.bus();
  const reply: Reply = await bus.send(command, record.key);
  const outcome = reply.ok ? 'accepted' : `refused: ${reply.error.code}`;
  await session.audit({ reason: 'dlq-replay', details: { offset: record.offset, partition: record.partition, commandId: command.metadata.messageId, type: command.type, outcome } });
  session.io.out(`replayed ${command.type} ${command.metadata.messageId}: ${reply.ok ? 'accepted' : `${reply.error.code} (${reply.error.message})`}`);
  return reply.ok ? 0 : 1;
}

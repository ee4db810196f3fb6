import type { LoggerService } from '@nestjs/common';
import type { Message } from '@p2/contracts';
import type { CommandTransportHooks } from '@p2/messaging';
import { childTraceparent, runWithCorrelation } from './correlation';
import type { ProcessMetrics } from './process-metrics';

/** The `type` label of a record on the commands topic that was no command envelope at all. */
export const UNREADABLE_COMMAND_TYPE = 'unreadable';

/**
 * The certstore transport's hooks: each command is handled in its correlation context (the
 * envelope's correlationId, a span in the trace its `traceparent` header names), so every log line
 * written while handling it carries the id the gateway logged; outcomes, durations, batch sizes
 * and retries go to the process metrics. Per-command lines are debug: at info a busy certstore
 * would write thousands a second. They are built only when `debugLines` says debug lines are
 * written: a line dropped by level still cost its text and Nest's logger wrappers, per command.
 */
export function commandTransportHooks(metrics: ProcessMetrics, logger: LoggerService, { debugLines }: { debugLines: boolean }): CommandTransportHooks {
  const debug = debugLines ? logger.debug?.bind(logger) : undefined;
  const inContext = (command: Message, traceparent: string, work: () => void) =>
    runWithCorrelation({ correlationId: command.metadata.correlationId, traceparent }, work);
  return {
    around: (command, traceparent, work) =>
      runWithCorrelation({ correlationId: command.metadata.correlationId, traceparent: childTraceparent(traceparent) }, async () => {
        try {
          return await work();
        } catch (error) {
          debug?.(`command ${command.metadata.messageId} (${command.type}) ended with ${(error as { code?: string })?.code ?? (error as Error)?.name ?? 'an error'}`, 'Commands');
          throw error;
        }
      }),
    replyTraceparent: (_command, traceparent) => childTraceparent(traceparent),
    unitDone: (size) => metrics.observeBatch(size),
    unitRetried: (types) => types.forEach((type) => metrics.countCommand(type, 'retried')),
    commandDone: (command, outcome, seconds) => {
      metrics.observeCommand(command.type, outcome, seconds);
      if (debug) inContext(command, '', () => debug(`command ${command.metadata.messageId} (${command.type}) ${outcome}, replied after ${(seconds * 1000).toFixed(1)} ms`, 'Commands'));
    },
    // its own type label: a record with no envelope has no type, and the DLQ alert counts every dead letter
    unreadableSetAside: () => metrics.countCommand(UNREADABLE_COMMAND_TYPE, 'dead_lettered'),
    payloadOmitted: (topic) => metrics.countOmittedCommandPayload(topic),
    assigned: (partitions) => logger.log(`commands partitions assigned: [${partitions.join(', ')}]`, 'Commands'),
  };
}

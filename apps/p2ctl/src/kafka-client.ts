import { createKafka, type KafkaClient } from '@p2/messaging';
import type { CliIo } from './io';
import type { OperatorEnv } from './operator-env';

/** A Kafka client for the operator tools: kafkajs' own complaints only with P2CTL_DEBUG set
 * (the command's output is what the operator reads). */
export function operatorKafka(env: OperatorEnv, io: CliIo, clientId: string): KafkaClient {
  const debug = io.env.P2CTL_DEBUG ? (line: string) => io.err(line) : () => undefined;
  return createKafka({ brokers: env.kafkaBrokers, clientId, logger: { error: debug, warn: debug, log: debug, debug } });
}

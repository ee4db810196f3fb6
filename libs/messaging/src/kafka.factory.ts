import * as net from 'node:net';
import * as tls from 'node:tls';
import { Kafka, logLevel, type ISocketFactory, type LogEntry, type logCreator } from 'kafkajs';
import { stopIdleRequestQueueTimers } from './request-queue-timer.fix';

/** A Kafka client as the apps hold it (only ever handed back to this library). */
export type KafkaClient = Kafka;

/** The only place that builds kafkajs clients: kafkajs is unmaintained, so it stays behind this seam. */
export interface KafkaLogger {
  error(message: string): void;
  warn(message: string): void;
  log(message: string): void;
  debug?(message: string): void;
}

export function createKafka(options: { brokers: readonly string[]; clientId: string; logger: KafkaLogger }): KafkaClient {
  stopIdleRequestQueueTimers();
  const toLogger: logCreator = () => (entry: LogEntry) => {
    const { message, ...extra } = entry.log;
    // kafkajs logs reconnects at ERROR while it retries by itself; keep them visible but short.
    const line = `[kafka ${entry.namespace}] ${message} ${JSON.stringify(pickLoggable(extra))}`;
    // kafkajs logs every error *response* at ERROR even when it retries it by itself (group
    // rebalancing, coordinator loading); those are debug noise. Real failures surface as errors
    // thrown to the caller.
    const retriableResponse = entry.namespace === 'Connection' && message.startsWith('Response ');
    if (entry.level === logLevel.ERROR && !retriableResponse) options.logger.error(line);
    else if (entry.level === logLevel.ERROR) options.logger.debug?.(line);
    else if (entry.level === logLevel.WARN) options.logger.warn(line);
    else if (entry.level === logLevel.INFO) options.logger.debug?.(line);
  };
  return new Kafka({
    clientId: options.clientId,
    brokers: [...options.brokers],
    logLevel: logLevel.WARN,
    logCreator: toLogger,
    connectionTimeout: 3000,
    requestTimeout: 10000,
    retry: { initialRetryTime: 200, retries: 8, maxRetryTime: 5000 },
    socketFactory: noDelaySockets,
  });
}

/**
 * kafkajs' own socket factory with Nagle's algorithm off (TCP_NODELAY, as the Java client and the
 * broker set it). With Nagle on, a request written while an earlier one on the same connection is
 * not yet acknowledged by TCP waits for that acknowledgement: an offset commit or heartbeat behind
 * a long-polling fetch, or a second produce request behind the first, waited for the broker's
 * delayed ACK (up to 40 ms on Linux) — the write path's latency, not its work.
 */
const noDelaySockets: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : net.connect({ host, port }, onConnect);
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 60000);
  return socket;
};

function pickLoggable(extra: Record<string, unknown>): Record<string, unknown> {
  const { error, groupId, topic, broker, retryCount, retryTime } = extra as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries({ error, groupId, topic, broker, retryCount, retryTime }).filter(([, v]) => v !== undefined),
  );
}

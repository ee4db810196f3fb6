/** Kafka topic names. A deployment may prefix them (P2_KAFKA_TOPIC_PREFIX) so that several
 * clusters or test runs can share one broker without reading each other's messages. */
export const TOPIC = {
  commands: 'p2.core.commands.v1',
  replies: 'p2.core.replies.v1',
  events: 'p2.core.events.v1',
  deadLetters: 'p2.core.commands.v1.dlq',
  /** a snapshot of every process every few seconds, keyed by instance id (README, Telemetry) */
  telemetry: 'p2.core.telemetry.v1',
  /** security-relevant happenings that are not events, keyed by actor or client address (README, Audit) */
  audit: 'p2.core.audit.v1',
} as const;

export type TopicName = keyof typeof TOPIC;

export interface TopicNames {
  readonly commands: string;
  readonly replies: string;
  readonly events: string;
  readonly deadLetters: string;
  readonly telemetry: string;
  readonly audit: string;
}

export function topicNames(prefix = ''): TopicNames {
  return {
    commands: `${prefix}${TOPIC.commands}`,
    replies: `${prefix}${TOPIC.replies}`,
    events: `${prefix}${TOPIC.events}`,
    deadLetters: `${prefix}${TOPIC.deadLetters}`,
    telemetry: `${prefix}${TOPIC.telemetry}`,
    audit: `${prefix}${TOPIC.audit}`,
  };
}

/** Kafka header names repeated from the envelope so that tooling can route without parsing JSON. */
export const HEADER = {
  messageType: 'message-type',
  correlationId: 'correlation-id',
  replyTo: 'reply-to',
  /** the replies partition the sending gateway reads (decimal); the certstore produces its reply there */
  replyPartition: 'reply-partition',
  /** W3C Trace Context of the conversation (OpenTelemetry-compatible), on commands and replies */
  traceparent: 'traceparent',
  /** on an events-topic record whose data the relay left out (value: why, see PAYLOAD_OMITTED) */
  payloadOmitted: 'payload-omitted',
} as const;

/** Retention of the operational topics (scripts/kafka.mjs and the test helper create them so). */
export const TOPIC_RETENTION_MS = {
  /** snapshots are only looked at live: an hour is plenty */
  telemetry: 60 * 60 * 1000,
  /** audit entries are evidence: 30 days */
  audit: 30 * 24 * 60 * 60 * 1000,
} as const;

/** Kafka topic names. A deployment may prefix them (P2_KAFKA_TOPIC_PREFIX) so that several
 * clusters or test runs can share one broker without reading each other's messages. */
export const TOPIC = {
  commands: 'p2.core.commands.v1',
  replies: 'p2.core.replies.v1',
  events: 'p2.core.events.v1',
  deadLetters: 'p2.core.commands.v1.dlq',
} as const;

export type TopicName = keyof typeof TOPIC;

export interface TopicNames {
  readonly commands: string;
  readonly replies: string;
  readonly events: string;
  readonly deadLetters: string;
}

export function topicNames(prefix = ''): TopicNames {
  return {
    commands: `${prefix}${TOPIC.commands}`,
    replies: `${prefix}${TOPIC.replies}`,
    events: `${prefix}${TOPIC.events}`,
    deadLetters: `${prefix}${TOPIC.deadLetters}`,
  };
}

/** Kafka header names repeated from the envelope so that tooling can route without parsing JSON. */
export const HEADER = {
  messageType: 'message-type',
  correlationId: 'correlation-id',
  replyTo: 'reply-to',
  /** the replies partition the sending gateway reads (decimal); the certstore produces its reply there */
  replyPartition: 'reply-partition',
} as const;

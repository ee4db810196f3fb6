/** Every message on Kafka is a plain `{type, data, metadata}` object (docs/architecture.md#envelope). */
export interface MessageMetadata {
  readonly messageId: string;
  readonly correlationId: string;
  readonly causationId: string;
  readonly occurredAt: string;
  readonly schemaVersion: number;
}

export interface Message<TType extends string = string, TData = unknown> {
  readonly type: TType;
  readonly data: TData;
  readonly metadata: MessageMetadata;
}

export function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  if (typeof m.type !== 'string' || !('data' in m)) return false;
  const meta = m.metadata as Record<string, unknown> | undefined;
  return (
    typeof meta === 'object' &&
    meta !== null &&
    typeof meta.messageId === 'string' &&
    typeof meta.correlationId === 'string' &&
    typeof meta.causationId === 'string' &&
    typeof meta.occurredAt === 'string' &&
    typeof meta.schemaVersion === 'number'
  );
}

/** Why the relay published an event without its data: its record alone was over what the events
 * topic takes (the broker's `message.max.bytes` or the topic's `max.message.bytes`). */
export const PAYLOAD_OMITTED = 'too-large-for-topic';

/** The `data` of an event published in place of one the events topic refused as too large
 * (docs/architecture.md#oversized-events). The event is in the event store, whole. */
export interface OmittedPayload {
  readonly payloadOmitted: { readonly reason: typeof PAYLOAD_OMITTED; readonly bytes: number };
}

/** The event itself, its data replaced by the marker; `bytes`: the size of the refused record's value. */
export function withPayloadOmitted<T extends string>(message: Message<T>, bytes: number): Message<T, OmittedPayload> {
  return { type: message.type, data: { payloadOmitted: { reason: PAYLOAD_OMITTED, bytes } }, metadata: message.metadata };
}

/** Whether an event's data is the marker of withPayloadOmitted: its data says nothing about the
 * event, not even whose it was. */
export function isPayloadOmitted(data: unknown): data is OmittedPayload {
  if (typeof data !== 'object' || data === null) return false;
  const marker = (data as { payloadOmitted?: unknown }).payloadOmitted;
  return typeof marker === 'object' && marker !== null && (marker as { reason?: unknown }).reason === PAYLOAD_OMITTED;
}

/** A command id, correlation id or causation id as this project's producers write them (UUIDs,
 * the gateway's request ids): printable ASCII without spaces, at most 128 characters. */
const ENVELOPE_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * A message the command transport can take: an envelope whose ids are of the form above. The
 * command id keys the processed_commands row and the ids are copied into the events' metadata: an
 * empty one made every such command a retry of the first (its write lost), and one with a NUL, a
 * lone surrogate or too long for the index failed in PostgreSQL five times over before it was set
 * aside with P2CORE_UNAVAILABLE. Such a message is a malformed envelope instead, set aside at once.
 */
export function isCommandEnvelope(value: unknown): value is Message {
  if (!isMessage(value)) return false;
  const { messageId, correlationId, causationId } = value.metadata;
  return ENVELOPE_ID.test(messageId) && ENVELOPE_ID.test(correlationId) && ENVELOPE_ID.test(causationId);
}

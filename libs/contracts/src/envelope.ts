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

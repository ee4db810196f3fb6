import type { Message as KafkaRecord } from 'kafkajs';

/**
 * The most record bytes (keys, values, headers) one produce request carries. The broker refuses a
 * partition's record batch over its `message.max.bytes` (1 MiB by default) with
 * MESSAGE_TOO_LARGE, and refuses it again on every retry: a relay batch of 500 events, or a few
 * commands that coalesced, each well under the limit, made such a batch together, and the relay
 * then retried it forever. Half the default leaves room for the batch's own framing.
 */
export const MAX_REQUEST_BYTES = 512 * 1024;

function sizeOf(value: KafkaRecord['value'] | KafkaRecord['key'] | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === 'string' ? Buffer.byteLength(value) : value.length;
}

/** The bytes of a record's value (what a log line or a stand-in reports as its size). */
export function valueBytes(record: KafkaRecord): number {
  return sizeOf(record.value);
}

/** About what a record adds to a produce request (its framing is a few dozen bytes more). */
export function recordBytes(record: KafkaRecord): number {
  let bytes = sizeOf(record.key) + sizeOf(record.value);
  for (const [name, value] of Object.entries(record.headers ?? {})) {
    bytes += Buffer.byteLength(name) + (Array.isArray(value) ? value.reduce((n: number, v) => n + sizeOf(v), 0) : sizeOf(value as string | Buffer | undefined));
  }
  return bytes;
}

/** `items` in order, cut into runs of at most `maxCount` items and `maxBytes` record bytes; an item
 * over `maxBytes` on its own makes a run of one (the broker is the judge of it). */
export function chunksOf<T>(items: readonly T[], recordOf: (item: T) => KafkaRecord, maxCount: number, maxBytes = MAX_REQUEST_BYTES): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = recordBytes(recordOf(item));
    if (chunk.length > 0 && (chunk.length >= maxCount || bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(item);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** The broker's answers to a record batch over what the partition's topic takes; it gives the same
 * answer on every retry. kafkajs hands the protocol error over as it is, or wrapped (cause). */
const TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

/** Whether a produce request was refused because a record batch in it was too large. */
export function isTooLargeForTopic(error: unknown): boolean {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (TOO_LARGE.has(String((e as { type?: unknown }).type))) return true;
  }
  return false;
}

/**
 * Sends `items` with `send`, for a topic that may take less than MAX_REQUEST_BYTES: a request it
 * refuses as too large is halved and each half sent again, in order, down to single items, so the
 * items that fit always go out whole; an item refused on its own is handed to `refusedAlone` (which
 * sends a stand-in, or throws). The broker gives a too-large request the same answer on every pass,
 * so without this the request, and everything queued behind it, would never leave. Any other error
 * goes up; items of a refused request that the broker did write (another partition's batch) are
 * written again by the retry, so the topic's consumers must tolerate duplicates.
 */
export async function sendHalving<T>(items: readonly T[], send: (items: readonly T[]) => Promise<void>, refusedAlone: (item: T, error: unknown) => Promise<void>): Promise<void> {
  if (items.length === 0) return;
  try {
    await send(items);
    return;
  } catch (error) {
    if (!isTooLargeForTopic(error)) throw error;
    if (items.length === 1) return refusedAlone(items[0]!, error);
  }
  const half = Math.ceil(items.length / 2);
  await sendHalving(items.slice(0, half), send, refusedAlone);
  await sendHalving(items.slice(half), send, refusedAlone);
}

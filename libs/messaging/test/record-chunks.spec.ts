import type { Message as KafkaRecord, Producer, ProducerRecord } from 'kafkajs';
import { CoalescingSender } from '../src/coalescing-sender';
import { EventPublisher } from '../src/event-publisher';
import { HEADER, isPayloadOmitted, PAYLOAD_OMITTED, type Message } from '@p2/contracts';
import { chunksOf, isTooLargeForTopic, MAX_REQUEST_BYTES, recordBytes, sendHalving } from '../src/record-chunks';

const record = (bytes: number, key = 'k'): KafkaRecord => ({ key, value: 'x'.repeat(bytes) });

/** A producer that records each request, as the broker would see it. */
function fakeProducer(): { producer: Producer; requests: ProducerRecord[] } {
  const requests: ProducerRecord[] = [];
  const producer = { send: (request: ProducerRecord) => (requests.push(request), Promise.resolve([])), connect: async () => undefined } as unknown as Producer;
  return { producer, requests };
}
const requestBytes = (request: ProducerRecord) => request.messages.reduce((n, m) => n + recordBytes(m), 0);

describe('chunksOf (produce requests the broker takes)', () => {
  it('cuts by count and by bytes, in order; an oversized record goes alone', () => {
    const items = [100, 200, 300, 1000, 50, 60].map((bytes, i) => record(bytes, String(i)));
    const chunks = chunksOf(items, (r) => r, 2, 600);
    expect(chunks.map((c) => c.map((r) => r.key))).toEqual([['0', '1'], ['2'], ['3'], ['4', '5']]);
    expect(chunksOf([], (r: KafkaRecord) => r, 0)).toEqual([]);
  });

  it('counts keys, values and headers', () => {
    expect(recordBytes({ key: 'ab', value: Buffer.alloc(10), headers: { h: 'xyz', b: Buffer.alloc(4) } })).toBe(2 + 10 + 1 + 3 + 1 + 4);
  });
});

describe('the senders keep each produce request under MAX_REQUEST_BYTES', () => {
  it('EventPublisher: a relay batch of 180 events of 14 KiB (key material items) in several requests, in order', async () => {
    const { producer, requests } = fakeProducer();
    const publisher = new EventPublisher({ producer: () => producer } as never, 'events');
    const messages = Array.from({ length: 180 }, (_, i) => ({
      key: `keymaterial-a${i}@example.com`,
      message: { type: 'KeyMaterialStored', data: { sealed: 'x'.repeat(14 * 1024) }, metadata: { messageId: `m${i}`, correlationId: 'c', causationId: 'c', occurredAt: '', schemaVersion: 2 } },
    }));
    await publisher.publish(messages);
    // one request of 2.5 MB before: the broker refused it (MESSAGE_TOO_LARGE) on every pass
    expect(requests.length).toBeGreaterThan(1);
    for (const request of requests) expect(requestBytes(request)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(requests.flatMap((r) => r.messages.map((m) => m.key))).toEqual(messages.map((m) => m.key));
  });

  it('CoalescingSender: concurrent large commands leave in requests under the limit', async () => {
    const { producer, requests } = fakeProducer();
    const sender = new CoalescingSender(producer, 'commands', { lingerMs: 5 });
    await Promise.all(Array.from({ length: 12 }, (_, i) => sender.sendAll([record(250 * 1024, `actor-${i}`)])));
    expect(requests.flatMap((r) => r.messages)).toHaveLength(12);
    for (const request of requests) expect(requestBytes(request)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
  });
});

/** What kafkajs throws for a batch over the topic's max.message.bytes (bail, or wrapped by a retrier). */
const tooLarge = (wrapped: boolean) => {
  const protocol = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { name: 'KafkaJSProtocolError', type: 'MESSAGE_TOO_LARGE', retriable: false });
  return wrapped ? Object.assign(new Error(protocol.message), { name: 'KafkaJSNonRetriableError', cause: protocol }) : protocol;
};

/** A producer in front of a topic that takes requests of at most `limit` record bytes. */
function smallTopic(limit: number, error: () => Error = () => tooLarge(false)): { producer: Producer; written: ProducerRecord[]; refused: number } {
  const state = { written: [] as ProducerRecord[], refused: 0, producer: undefined as unknown as Producer };
  state.producer = {
    send: (request: ProducerRecord) => {
      if (requestBytes(request) > limit) {
        state.refused++;
        return Promise.reject(error());
      }
      state.written.push(request);
      return Promise.resolve([]);
    },
  } as unknown as Producer;
  return state;
}

const event = (i: number, bytes: number): { key: string; message: Message } => ({
  key: `actor-${i}`,
  message: { type: 'KeyPackagesAdded', data: { blob: 'x'.repeat(bytes) }, metadata: { messageId: `actor-${i}@1`, correlationId: `c${i}`, causationId: 'c', occurredAt: 't', schemaVersion: 1 } },
});

describe('EventPublisher on a topic that takes less than MAX_REQUEST_BYTES', () => {
  it('halves a refused request until each part is taken: nothing replaced, order kept', async () => {
    const topic = smallTopic(64 * 1024);
    const publisher = new EventPublisher({ producer: () => topic.producer } as never, 'events');
    const omitted: unknown[] = [];
    const messages = Array.from({ length: 7 }, (_, i) => event(i, 20 * 1024));
    await publisher.publish(messages, (o) => omitted.push(o));
    expect(topic.refused).toBeGreaterThan(0);
    expect(omitted).toEqual([]);
    const values = topic.written.flatMap((r) => r.messages.map((m) => JSON.parse(m.value as string) as Message));
    expect(values.map((v) => v.metadata.messageId)).toEqual(messages.map((m) => m.message.metadata.messageId));
    expect(values.every((v) => !isPayloadOmitted(v.data))).toBe(true);
  });

  it('publishes an event refused on its own without its data, in its place, and goes on', async () => {
    for (const wrapped of [false, true]) {
      const topic = smallTopic(64 * 1024, () => tooLarge(wrapped));
      const publisher = new EventPublisher({ producer: () => topic.producer } as never, 'events');
      const omitted: unknown[] = [];
      const messages = [event(0, 100), event(1, 100 * 1024), event(2, 100)];
      await publisher.publish(messages, (o) => omitted.push(o));
      const records = topic.written.flatMap((r) => r.messages);
      expect(records.map((r) => r.key)).toEqual(['actor-0', 'actor-1', 'actor-2']);
      const standIn = JSON.parse(records[1]!.value as string) as Message;
      const bytes = Buffer.byteLength(JSON.stringify(messages[1]!.message));
      expect(standIn).toEqual({ type: 'KeyPackagesAdded', data: { payloadOmitted: { reason: PAYLOAD_OMITTED, bytes } }, metadata: messages[1]!.message.metadata });
      expect(records[1]!.headers).toEqual({ [HEADER.messageType]: 'KeyPackagesAdded', [HEADER.correlationId]: 'c1', [HEADER.payloadOmitted]: PAYLOAD_OMITTED });
      expect(records[0]!.headers![HEADER.payloadOmitted]).toBeUndefined();
      expect(omitted).toEqual([{ messageId: 'actor-1@1', type: 'KeyPackagesAdded', bytes }]);
    }
  });

  it('lets any other failure through, and a stand-in that is refused too: the relay tries again', async () => {
    const down = smallTopic(0, () => Object.assign(new Error('connection closed'), { name: 'KafkaJSConnectionClosedError' }));
    await expect(new EventPublisher({ producer: () => down.producer } as never, 'events').publish([event(0, 10)])).rejects.toThrow('connection closed');
    expect(down.refused).toBe(1);
    const tiny = smallTopic(10);
    await expect(new EventPublisher({ producer: () => tiny.producer } as never, 'events').publish([event(0, 10)])).rejects.toMatchObject({ type: 'MESSAGE_TOO_LARGE' });
    expect(tiny.written).toEqual([]);
  });

  it('isTooLargeForTopic: the two size refusals, bare or wrapped; nothing else', () => {
    expect(isTooLargeForTopic(tooLarge(false))).toBe(true);
    expect(isTooLargeForTopic(tooLarge(true))).toBe(true);
    expect(isTooLargeForTopic({ type: 'RECORD_LIST_TOO_LARGE' })).toBe(true);
    expect(isTooLargeForTopic({ type: 'NOT_LEADER_FOR_PARTITION' })).toBe(false);
    expect(isTooLargeForTopic(new Error('MESSAGE_TOO_LARGE'))).toBe(false);
    expect(isTooLargeForTopic(undefined)).toBe(false);
  });
});

describe('CoalescingSender on a topic that takes less than MAX_REQUEST_BYTES (the replies)', () => {
  const replyOf = (commandId: string, bytes: number): KafkaRecord => ({ key: 'gw-1', value: JSON.stringify({ commandId, ok: true, result: { blob: 'x'.repeat(bytes) } }) });

  it('halves a refused request: every record that fits goes out whole, in order', async () => {
    const topic = smallTopic(64 * 1024);
    const sender = new CoalescingSender(topic.producer, 'replies', { lingerMs: 0 });
    const records = Array.from({ length: 6 }, (_, i) => replyOf(`c${i}`, 20 * 1024));
    await sender.sendAll(records);
    expect(topic.refused).toBeGreaterThan(0);
    expect(topic.written.flatMap((r) => r.messages)).toEqual(records);
  });

  it('sends the stand-in of a record refused on its own, in its place, and says so once it is taken', async () => {
    const topic = smallTopic(64 * 1024, () => tooLarge(true));
    const replaced: [string, string][] = [];
    const sender = new CoalescingSender(topic.producer, 'replies', {
      lingerMs: 0,
      standIn: {
        record: (refused) => ({ ...refused, value: JSON.stringify({ commandId: JSON.parse(refused.value as string).commandId, ok: false }) }),
        sent: (refused, standIn) => replaced.push([JSON.parse(refused.value as string).commandId, standIn.value as string]),
      },
    });
    const records = [replyOf('c0', 100), replyOf('c1', 100 * 1024), replyOf('c2', 100)];
    await sender.sendAll(records);
    const written = topic.written.flatMap((r) => r.messages);
    expect(written.map((m) => JSON.parse(m.value as string))).toEqual([JSON.parse(records[0]!.value as string), { commandId: 'c1', ok: false }, JSON.parse(records[2]!.value as string)]);
    expect(replaced).toEqual([['c1', JSON.stringify({ commandId: 'c1', ok: false })]]);
  });

  it('without a stand-in, only the record refused on its own fails; the others of its request are taken', async () => {
    const topic = smallTopic(64 * 1024);
    const sender = new CoalescingSender(topic.producer, 'commands', { lingerMs: 0 });
    const sends = [replyOf('c0', 100), replyOf('c1', 100 * 1024), replyOf('c2', 100)].map((r) => sender.send(r).then(() => 'sent', (e: { type?: string }) => e.type));
    expect(await Promise.all(sends)).toEqual(['sent', 'MESSAGE_TOO_LARGE', 'sent']);
  });

  it('any other failure fails every send of the request: the transport tries the batch again', async () => {
    const down = smallTopic(0, () => Object.assign(new Error('connection closed'), { name: 'KafkaJSConnectionClosedError' }));
    const sender = new CoalescingSender(down.producer, 'replies', { lingerMs: 0, standIn: { record: (r) => r, sent: () => undefined } });
    await expect(sender.sendAll([replyOf('c0', 10), replyOf('c1', 10)])).rejects.toThrow('connection closed');
  });
});

describe('sendHalving', () => {
  it('halves down to single items and hands each one refused alone over, in order', async () => {
    const sent: number[][] = [];
    const alone: number[] = [];
    const items = [1, 2, 30, 4, 5];
    await sendHalving(
      items,
      async (part) => {
        if (part.reduce((a, b) => a + b, 0) > 10) throw tooLarge(false);
        sent.push([...part]);
      },
      async (item) => void alone.push(item),
    );
    expect(alone).toEqual([30]);
    expect(sent.flat()).toEqual([1, 2, 4, 5]);
  });
});
